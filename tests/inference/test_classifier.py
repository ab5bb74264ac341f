import pytest

from tfllm.export.classifier_serving import export_classifier
from tfllm.inference.classifier import ClassifierPredictor
from tfllm.inference.classifier import load_text_classifier
from tfllm.inference.classifier import newest_export
from tiny import CLS_LABELS
from tiny import tiny_text_classifier


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run folder: `model.keras` and `saved_models/sentiment/1`."""
    folder = tmp_path_factory.mktemp("run")
    model = tiny_text_classifier(seed=4)
    model.save(folder / "model.keras")
    export_classifier(model, folder / "saved_models" / "sentiment")
    return folder


def test_run_folder_and_export_agree(run_folder, tmp_path):
    folder = run_folder
    texts = ["great movie", "awful plot ."]
    from_run = ClassifierPredictor(folder)(texts)
    from_export = ClassifierPredictor(folder / "saved_models" / "sentiment")(
        texts)
    for a, b in zip(from_run, from_export):
        assert a["label"] == b["label"]
        assert list(a["probabilities"]) == CLS_LABELS
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-5)
    assert newest_export(folder / "saved_models").name == "1"
    assert newest_export(tmp_path / "nothing") is None
    with pytest.raises(ValueError, match="single texts"):
        ClassifierPredictor(folder)(texts, ["a", "b"])


def test_load_checks_labels_and_files(run_folder, tmp_path):
    loaded = load_text_classifier(run_folder)
    assert loaded.id2label == CLS_LABELS
    assert loaded.preprocessor.sequence_length == 8
    with pytest.raises(ValueError, match="differ from the saved id2label"):
        load_text_classifier(run_folder, id2label=CLS_LABELS[::-1])
    with pytest.raises(FileNotFoundError):
        load_text_classifier(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot load"):
        load_text_classifier(tmp_path / "bad")
