"""End to end: train_classifier on tiny files and a tiny backbone."""

import gc
import json
import subprocess
import sys
import pathlib
import weakref

import keras
import pytest

from tfllm.cli import predict_classifier
from tfllm.cli import train_classifier
from tfllm.data.errors import DataFormatError
from tiny import CLS_GOLD
from tiny import CLS_TEXTS
from tiny import write_csv

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def csv_files(tmp_path):
    train = write_csv(tmp_path / "train.csv",
                      list(zip(CLS_TEXTS, CLS_GOLD)) * 3)
    valid = write_csv(tmp_path / "valid.csv", list(zip(CLS_TEXTS, CLS_GOLD)))
    return train, valid


def common(tiny_cls_preset, tmp_path):
    return ["--backbone", str(tiny_cls_preset), "--batch-size", "4",
            "--learning-rate", "1e-3", "--max-length", "8",
            "--output-dir", str(tmp_path / "runs")]


def test_train_resume_export_predict(tiny_cls_preset, csv_files, tmp_path,
                                     capsys):
    train, valid = csv_files
    export = tmp_path / "sm" / "sentiment"
    args = common(tiny_cls_preset, tmp_path) + [
        "--train-file", str(train), "--validation-file", str(valid),
        "--test-file", str(valid), "--epochs", "2", "--run-name", "tiny",
        "--class-weight", "balanced", "--export-dir", str(export)]
    run_dir = train_classifier.main(args)
    out = capsys.readouterr().out
    assert "validation: accuracy" in out and "macro_f1" in out
    assert "precision" in out  # scikit-learn's classification report
    records = [json.loads(line) for line in
               (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert all("val_accuracy" in r and "val_macro_f1" in r for r in records)
    assert json.loads((run_dir / "labels.json").read_text()) == [
        "negative", "positive"]
    for name in ("model.keras", "best.weights.h5", "best.json", "config.json",
                 "validation_report.json", "validation_report.txt",
                 "validation_predictions.jsonl",
                 "validation_confusion_matrix.png", "test_report.json",
                 "summary.json", "bad_rows.json"):
        assert (run_dir / name).is_file(), name
    png = (run_dir / "validation_confusion_matrix.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    report = json.loads((run_dir / "validation_report.json").read_text())
    assert set(report) >= {"accuracy", "macro_f1", "weighted_f1", "report",
                           "confusion_matrix", "most_confused"}
    assert list((run_dir / "train").iterdir())  # TensorBoard events
    assert list((run_dir / "validation").iterdir())
    assert (export / "1" / "saved_model.pb").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["training_examples"] == 24
    assert summary["mean_seconds_per_epoch"] > 0

    # A second run with more epochs resumes after epoch 2.
    args[args.index("--epochs") + 1] = "3"
    run_dir = train_classifier.main(args + ["--no-export"])
    assert "resuming" in capsys.readouterr().out
    records = [json.loads(line) for line in
               (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]

    results = predict_classifier.main(["--model", str(export), "great movie"])
    out = capsys.readouterr().out
    assert out.split("\t")[0] == results[0]["label"]
    assert results[0]["label"] in ("negative", "positive")
    assert abs(sum(results[0]["probabilities"].values()) - 1) < 1e-5

    # The export, loaded without tfllm, agrees with the in-memory model on
    # the whole validation split.
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_classifier_export.py"),
         str(export / "1"), "--predictions",
         str(tmp_path / "runs" / "tiny" / "validation_predictions.jsonl")],
        capture_output=True, text=True, check=True, cwd="/")
    result = json.loads(check.stdout.strip().splitlines()[-1])
    assert result["identical_labels"] == result["examples"] == 8
    assert result["max_abs_probability_difference"] < 1e-5


def test_carved_validation_and_kfold(tiny_cls_preset, csv_files, tmp_path,
                                     capsys):
    train, _ = csv_files
    run_dir = train_classifier.main(common(tiny_cls_preset, tmp_path) + [
        "--train-file", str(train), "--epochs", "2", "--folds", "3",
        "--run-name", "cv", "--no-export"])
    out = capsys.readouterr().out
    assert "3-fold accuracy:" in out and "±" in out
    summary = json.loads((run_dir / "cross_validation.json").read_text())
    assert [r["fold"] for r in summary["per_fold"]] == [1, 2, 3]
    assert sum(r["validation_examples"] for r in summary["per_fold"]) == 24
    assert set(summary["accuracy"]) == {"mean", "std"}
    for record in summary["per_fold"]:
        fold_dir = run_dir / f"fold{record['fold']}"
        epochs = [json.loads(line) for line in
                  (fold_dir / "metrics.jsonl").read_text().splitlines()]
        # The estimate is the last epoch, not the epoch picked on the fold.
        assert record["epochs"] == 2
        assert record["accuracy"] == epochs[-1]["val_accuracy"]
        best = json.loads((fold_dir / "validation_report.json").read_text())
        assert record["best_epoch_scores"]["accuracy"] == best["accuracy"]
    assert summary["accuracy"]["mean"] == pytest.approx(
        sum(r["accuracy"] for r in summary["per_fold"]) / 3)

    run_dir = train_classifier.main(common(tiny_cls_preset, tmp_path) + [
        "--train-file", str(train), "--epochs", "1", "--run-name", "carve",
        "--validation-fraction", "0.25", "--no-export"])
    assert "carved 6 validation examples" in capsys.readouterr().out
    assert len((run_dir / "validation_predictions.jsonl").read_text()
               .splitlines()) == 6


def test_bad_rows_fail_with_file_and_line_or_are_counted(
        tiny_cls_preset, csv_files, tmp_path, capsys):
    train, _ = csv_files
    valid = write_csv(tmp_path / "bad_valid.csv",
                      [("great movie", "positive"), ("awful", "sarcastic"),
                       ("  ", "negative")])
    args = common(tiny_cls_preset, tmp_path) + [
        "--train-file", str(train), "--validation-file", str(valid),
        "--epochs", "1", "--no-export"]
    with pytest.raises(DataFormatError, match=rf"{valid}:4: empty text"):
        train_classifier.main(args + ["--run-name", "bad"])
    run_dir = train_classifier.main(args + ["--run-name", "skip",
                                            "--skip-bad-rows"])
    assert "skipped 2 bad rows" in capsys.readouterr().out
    bad = json.loads((run_dir / "bad_rows.json").read_text())
    assert bad["skipped_rows"] == 2
    assert [(r["line"], r["reason"].split(";")[0]) for r in bad["rows"]] == [
        (4, "empty text"), (3, "unknown label 'sarcastic'")]


def test_label_smoothing_reaches_the_loss(tiny_cls_preset, csv_files,
                                          tmp_path, monkeypatch):
    from tfllm.training import trainer
    from tfllm.training.losses import SmoothedSparseCategoricalCrossentropy

    train, valid = csv_files
    losses = []
    real_train = trainer.train

    def spy(model, encoded, training, run_dir, evaluate, monitor, loss):
        losses.append(loss)
        return real_train(model, encoded, training, run_dir, evaluate,
                          monitor, loss)

    monkeypatch.setattr(trainer, "train", spy)
    args = common(tiny_cls_preset, tmp_path) + [
        "--train-file", str(train), "--validation-file", str(valid),
        "--epochs", "1", "--no-export"]
    train_classifier.main(args + ["--run-name", "smooth",
                                  "--label-smoothing", "0.2"])
    train_classifier.main(args + ["--run-name", "plain"])
    smoothed, plain = losses
    assert isinstance(smoothed, SmoothedSparseCategoricalCrossentropy)
    assert (smoothed.label_smoothing, smoothed.num_classes,
            smoothed.reduction) == (0.2, 2, "sum")
    assert not isinstance(plain, SmoothedSparseCategoricalCrossentropy)
    with pytest.raises(SystemExit, match=r"--label-smoothing must be in"):
        train_classifier.main(args + ["--run-name", "bad",
                                      "--label-smoothing", "1.5"])


def test_kfold_releases_each_folds_model(tiny_cls_preset, csv_files, tmp_path,
                                         monkeypatch):
    # Fold k's model (weights and optimizer moments) must be freed before
    # fold k+1 builds its own, or a k-fold run holds several models at once.
    from tfllm.runs import classification

    train, _ = csv_files
    built = []
    real_fit = classification.fit_classifier

    def recording_fit(*args, **kwargs):
        gc.collect()
        alive_before = [ref() is not None for ref in built]
        result = real_fit(*args, **kwargs)
        built.append(weakref.ref(result[0]))
        recording_fit.alive.append(alive_before)
        return result

    recording_fit.alive = []
    monkeypatch.setattr(classification, "fit_classifier", recording_fit)
    train_classifier.main(common(tiny_cls_preset, tmp_path) + [
        "--train-file", str(train), "--epochs", "1", "--folds", "3",
        "--run-name", "cv-release", "--no-export"])
    assert recording_fit.alive == [[], [False], [False, False]]


TOPIC_TRAIN = [
    {"text": "我在北京工作", "label": {"address": {"北京": [[2, 3]]}}},
    {"text": "google公司在北京", "label": {
        "company": {"google公司": [[0, 7]]}, "address": {"北京": [[9, 10]]}}},
    {"text": "我的iphone15", "label": {}},
]
TOPIC_DEV = [{"text": "google的公司", "label": {
    "company": {"google": [[0, 5]]}}}, {"text": "我在工作", "label": {}}]


def test_cluener2020_topics_is_multi_label_cjk_chars(tmp_path, capsys):
    from tiny import tiny_cjk_backbone
    from tiny import tiny_cjk_tokenizer

    preset = tmp_path / "zh_bert"
    tiny_cjk_backbone().save_to_preset(str(preset))
    tiny_cjk_tokenizer().save_to_preset(str(preset))
    data = tmp_path / "cluener2020"
    data.mkdir()
    for name, records in (("train.json", TOPIC_TRAIN * 4),
                          ("dev.json", TOPIC_DEV)):
        (data / name).write_text("\n".join(
            json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    export = tmp_path / "sm"
    run_dir = train_classifier.main([
        "--dataset", "cluener2020-topics", "--data-dir", str(data),
        "--backbone", str(preset), "--epochs", "1", "--batch-size", "4",
        "--max-length", "16", "--output-dir", str(tmp_path / "runs"),
        "--run-name", "topics", "--export-dir", str(export)])
    out = capsys.readouterr().out
    assert "12 training / 2 validation examples; 2 labels (multi-label); " \
        "word splitter cjk_chars" in out
    assert "validation: accuracy (exact label set) " in out
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["multi_label"], config["word_splitter"]) == (
        True, "cjk_chars")
    assert json.loads((run_dir / "labels.json").read_text()) == [
        "address", "company"]
    report = json.loads((run_dir / "validation_report.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["validation_accuracy"] == report["accuracy"]
    assert summary["validation_macro_f1"] == report["macro_f1"]
    assert summary["accuracy_definition"].startswith("exact label set")
    predictions = [json.loads(line) for line in (
        run_dir / "validation_predictions.jsonl").read_text().splitlines()]
    assert [p["gold"] for p in predictions] == [["company"], []]
    # Exact-set accuracy recomputed from the written predictions.
    exact = sum(p["gold"] == p["predicted"] for p in predictions) / 2
    assert report["accuracy"] == exact
    assert (export / "1" / "assets" / "word_splitter.txt").read_text() == (
        "cjk_chars\n")
    results = predict_classifier.main(["--model", str(run_dir / "model.keras"),
                                       "--json", "google的公司"])
    capsys.readouterr()
    assert sorted(results[0]["probabilities"]) == ["address", "company"]
    saved = keras.saving.load_model(run_dir / "model.keras")
    assert saved.preprocessor.word_splitter == "cjk_chars"


def test_resolve_task_dataset_defaults_and_override():
    config = train_classifier.ClassifierConfig(dataset="cluener2020-topics")
    train_classifier.resolve_task(config)
    assert (config.multi_label, config.word_splitter) == (True, "cjk_chars")
    config = train_classifier.ClassifierConfig(
        dataset="cluener2020-topics", word_splitter="whitespace")
    train_classifier.resolve_task(config)
    assert (config.multi_label, config.word_splitter) == (True, "whitespace")
    config = train_classifier.ClassifierConfig(dataset="sst2")
    train_classifier.resolve_task(config)
    assert (config.multi_label, config.word_splitter) == (False, "whitespace")
    config = train_classifier.ClassifierConfig(
        train_file="t.json", format="cluener_types")
    train_classifier.resolve_task(config)
    assert config.multi_label
    with pytest.raises(SystemExit, match="--word-splitter 'chars'"):
        train_classifier.resolve_task(train_classifier.ClassifierConfig(
            dataset="sst2", word_splitter="chars"))


def test_chnsenticorp_run_uses_the_hash_split_and_reports_cleaning(
        tmp_path, capsys):
    """`--dataset chnsenticorp`: Chinese (cjk_chars), cleaned, hash-split
    80/10/10, the test split scored at the end (issue 29)."""
    from tfllm.data.classification_datasets import (
        load_classification_dataset)
    from tiny import tiny_cjk_backbone
    from tiny import tiny_cjk_tokenizer

    preset = tmp_path / "zh_bert"
    tiny_cjk_backbone().save_to_preset(str(preset))
    tiny_cjk_tokenizer().save_to_preset(str(preset))
    data = tmp_path / "chnsenticorp_htl"
    data.mkdir()
    rows = [f"{i % 2},{'我在北京的公司工作' if i % 2 else '公司的工作'}{i}"
            for i in range(40)]
    (data / "ChnSentiCorp_htl_all.csv").write_text(
        "label,review\n" + "\n".join(rows + rows[:3] + ["0,"]) + "\n",
        encoding="utf-8")
    splits = load_classification_dataset("chnsenticorp", data)
    run_dir = train_classifier.main([
        "--dataset", "chnsenticorp", "--data-dir", str(data),
        "--backbone", str(preset), "--epochs", "1", "--batch-size", "8",
        "--max-length", "16", "--output-dir", str(tmp_path / "runs"),
        "--run-name", "chn", "--no-export"])
    out = capsys.readouterr().out
    assert ("chnsenticorp: 44 rows read; dropped 1 empty, 3 duplicate, 0 "
            "rows of 0 texts with conflicting labels") in out
    assert (f"{len(splits['train'])} training / "
            f"{len(splits['validation'])} validation examples; 2 labels; "
            "word splitter cjk_chars") in out
    cleaning = json.loads((run_dir / "cleaning.json").read_text())
    assert cleaning["kept"] == 40 and cleaning["splits"] == {
        k: len(v) for k, v in splits.items()}
    test = json.loads((run_dir / "test_report.json").read_text())
    assert test["num_examples"] == len(splits["test"]) > 0
    assert json.loads((run_dir / "labels.json").read_text()) == [
        "negative", "positive"]


def test_training_strategy_flags(tiny_cls_preset, csv_files, tmp_path,
                                 monkeypatch):
    """--adversarial fgm and --ema-decay reach the trainer's settings
    (issue 29: training strategies). The run itself is replaced: the
    strategies' effect on training is tested in tests/training."""
    import tfllm.runs.classification as classification

    seen = {}
    monkeypatch.setattr(classification, "run", lambda config, training,
                        peft: seen.setdefault("training", training))
    train, valid = csv_files
    train_classifier.main(common(tiny_cls_preset, tmp_path) + [
        "--train-file", str(train), "--validation-file", str(valid),
        "--adversarial", "fgm", "--adversarial-epsilon", "0.5",
        "--ema-decay", "0.99", "--rdrop-alpha", "1.0"])
    training = seen["training"]
    assert (training.adversarial, training.adversarial_epsilon,
            training.ema_decay, training.rdrop_alpha) == (
                "fgm", 0.5, 0.99, 1.0)
