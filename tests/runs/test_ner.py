"""tfllm.runs.ner: the NER run, built on the TokenClassifier Python API."""

import json

import numpy as np
import pytest

from tfllm.cli import train_ner
from tfllm.cli.args import run_cli
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import write_conll

TRAIN = [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B),
         (["Lyon", "."], ["B-LOC", "O"]),
         (["Anna", "Kowalski", "hires", "."], ["B-PER", "I-PER", "O", "O"])]
VALID = [(SENTENCE_B, TAGS_B), (["Anna", "visited", "Porto", "."],
                                ["B-PER", "O", "B-LOC", "O"])]


@pytest.fixture
def conll_dir(tmp_path):
    folder = tmp_path / "conll2003"
    folder.mkdir()
    write_conll(folder / "train.txt", TRAIN * 2)
    write_conll(folder / "valid.txt", VALID)
    return folder


def test_python_api_and_cli_train_the_same_model(tiny_preset, conll_dir,
                                                 tmp_path):
    """One seed, one recipe: `tfllm train ner` and from_pretrained + fit on
    Python lists give identical weights and validation entity F1."""
    import tfllm

    run_dir = train_ner.main([
        "--backbone", str(tiny_preset), "--data-dir", str(conll_dir),
        "--epochs", "1", "--batch-size", "4", "--learning-rate", "1e-3",
        "--max-length", "8", "--seed", "7", "--output-dir",
        str(tmp_path / "runs"), "--run-name", "cli", "--no-export"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["head"] == "crf"  # the default recipe
    assert summary["head_learning_rate"] == 1e-3
    cli_record = json.loads((run_dir / "metrics.jsonl").read_text())

    labels = json.loads((run_dir / "labels.json").read_text())
    model = tfllm.TokenClassifier.from_pretrained(
        str(tiny_preset), labels, max_length=8, seed=7)
    history = model.fit(TRAIN * 2, validation_data=VALID, epochs=1,
                        batch_size=4, learning_rate=1e-3, seed=7)
    assert model.head == "crf"
    assert len(history) == 1 and history.run_dir is None
    assert history[0]["val_entity_f1"] == cli_record["val_entity_f1"]
    assert history[0]["loss"] == cli_record["loss"]
    trained = tfllm.TokenClassifier.load(run_dir)
    for mine, theirs in zip(model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    report = model.evaluate(VALID)
    assert report["f1"] == summary["validation_entity_f1_strict"]
    assert set(report) >= {"f1", "entity_strict", "entity_conlleval",
                           "token", "predictions"}


def test_non_chief_worker_leaves_no_temporary_folder(
        tiny_preset, conll_dir, tmp_path, monkeypatch, capsys):
    """A non-chief worker of multi-worker training trains in a temporary
    folder that is removed at the end; it prints no run folder."""
    import tempfile

    import tfllm.training.distribute as distribute

    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    monkeypatch.setattr(distribute, "is_chief", lambda: False)
    result = train_ner.main([
        "--backbone", str(tiny_preset), "--data-dir", str(conll_dir),
        "--epochs", "1", "--batch-size", "8", "--max-length", "8",
        "--max-train-examples", "4", "--output-dir", str(tmp_path / "runs"),
        "--run-name", "worker", "--export-dir", str(tmp_path / "sm")])
    assert result is None
    assert "run folder" not in capsys.readouterr().out
    assert not [p.name for p in temp_root.iterdir()
                if p.name.startswith("tfllm-worker-")]
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "sm").exists()  # only the chief exports


def test_missing_input_file_is_one_clear_line(conll_dir, tmp_path, capsys):
    missing = tmp_path / "nope.txt"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: train_ner.main([
            "--data-dir", str(conll_dir), "--train-file", str(missing),
            "--output-dir", str(tmp_path / "runs")]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: --train-file {missing}: no such file\n"
    assert not (tmp_path / "runs").exists()


def test_load_ner_dataset_and_old_run_configs(conll_dir):
    import tfllm
    from tfllm.runs.ner import is_ner_config
    from tfllm.runs.ner import ner_config_from_dict

    data = tfllm.load_ner_dataset("conll2003", str(conll_dir),
                                  max_train_examples=3)
    assert [s.words for s in data.train] == [SENTENCE_A, SENTENCE_B,
                                             ["Lyon", "."]]
    assert [s.tags for s in data.validation] == [t for _, t in VALID]
    assert data.test is None and data.word_splitter == "whitespace"
    assert data.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER",
                           "I-PER"]
    with pytest.raises(ValueError, match="unknown dataset 'msra'"):
        tfllm.load_ner_dataset("msra")
    # A run folder written before the flags were renamed still loads.
    old = {"dataset": "conll2003", "max_train_sentences": 5,
           "max_eval_sentences": 2, "head": "softmax"}
    assert is_ner_config(old)
    config = ner_config_from_dict(old)
    assert (config.max_train_examples, config.max_eval_examples) == (5, 2)
    assert config.head == "softmax"
