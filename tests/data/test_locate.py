import builtins

import pytest

from tfllm.data import locate
from tfllm.data.conll import load_conll2003
from tiny import write_conll


def test_data_dir_wins_and_env_var(tmp_path, monkeypatch):
    folder = tmp_path / "conll2003"
    folder.mkdir()
    write_conll(folder / "train.txt", [(["Anna"], ["I-PER"])])
    write_conll(folder / "valid.txt", [(["Lyon"], ["I-LOC"])])
    assert locate.find_dataset_dir("conll2003", folder) == folder
    monkeypatch.setenv("TFLLM_DATA_DIR", str(tmp_path))
    assert locate.find_dataset_dir("conll2003") == folder
    data = load_conll2003()
    assert data["train"][0].tags == ["B-PER"]
    assert data["validation"][0].words == ["Lyon"]
    with pytest.raises(FileNotFoundError, match="held back"):
        load_conll2003(folder, splits=("test",))


def test_missing_files_in_data_dir(tmp_path):
    with pytest.raises(locate.DatasetNotFoundError, match="has no train.txt"):
        locate.find_dataset_dir("conll2003", tmp_path)


def test_tfds_fallback_fails_clearly_offline(monkeypatch):
    real_import = builtins.__import__

    def no_tfds(name, *args, **kwargs):
        if name == "tensorflow_datasets":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tfds)
    with pytest.raises(locate.DatasetNotFoundError, match="--data-dir"):
        locate.load_tfds_conll2003("train")
