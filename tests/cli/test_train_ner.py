"""End to end: train_ner on tiny data and a tiny backbone, resume, predict."""

import json

import pytest

from tfllm.cli import predict_ner
from tfllm.cli import train_ner
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import write_conll
from training.test_callbacks import summary_tags


@pytest.fixture
def conll_dir(tmp_path):
    folder = tmp_path / "conll2003"
    folder.mkdir()
    iob1_a = ["I-ORG" if t == "B-ORG" else t.replace("B-", "I-")
              for t in TAGS_A]
    train = [(SENTENCE_A, iob1_a), (SENTENCE_B, ["I-PER", "O", "I-LOC", "O"]),
             (["Lyon", "."], ["I-LOC", "O"]),
             (["Anna", "Kowalski", "hires", "."], ["I-PER", "I-PER", "O", "O"])]
    write_conll(folder / "train.txt", train * 4)
    write_conll(folder / "valid.txt", [(SENTENCE_B, TAGS_B)])
    return folder


def test_train_resume_export_predict(tiny_preset, conll_dir, tmp_path, capsys):
    args = ["--backbone", str(tiny_preset), "--data-dir", str(conll_dir),
            "--epochs", "2", "--batch-size", "4", "--learning-rate", "1e-3",
            "--max-length", "8", "--output-dir", str(tmp_path / "runs"),
            "--run-name", "tiny", "--export-dir", str(tmp_path / "sm" / "ner"),
            "--test-file", str(conll_dir / "valid.txt")]
    run_dir = train_ner.main(args)
    out = capsys.readouterr().out
    assert "validation: entity-level, seqeval strict IOB2" in out
    assert "training tokens/s" in out
    records = [json.loads(line) for line in
               (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert all(r["train_tokens_per_second"] > 0 for r in records)
    assert json.loads((run_dir / "labels.json").read_text()) == [
        "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    for name in ("model.keras", "best.weights.h5", "config.json",
                 "validation_entity_strict.json", "validation_token.json",
                 "test_entity_strict.json", "validation_predictions.json"):
        assert (run_dir / name).is_file(), name
    train_tags = summary_tags(run_dir / "train")  # TensorBoard scalars
    for tag in ("epoch_loss", "epoch_learning_rate",
                "epoch_train_tokens_per_second"):
        assert train_tags[tag] >= 1, tag
    assert summary_tags(run_dir / "validation")["epoch_entity_f1"] == 2
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["peak_memory_mib"] > 0
    assert summary["epochs_this_process"] == 2
    assert (tmp_path / "sm" / "ner" / "1" / "saved_model.pb").is_file()

    # A second run with more epochs resumes after epoch 2.
    run_dir = train_ner.main(args[:5] + ["3"] + args[6:] + ["--no-export"])
    assert "resuming" in capsys.readouterr().out
    records = [json.loads(line) for line in
               (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]

    results = predict_ner.main(["--model", str(tmp_path / "sm" / "ner" / "1"),
                                "--json", "Anna visited Lyon ."])
    assert results[0]["words"] == ["Anna", "visited", "Lyon", "."]
    assert len(results[0]["tags"]) == 4


def test_malformed_training_file_is_reported(conll_dir, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Anna B-PER\nvisited\n")
    with pytest.raises(Exception, match=rf"{bad}:2"):
        train_ner.main(["--train-file", str(bad), "--data-dir", str(conll_dir),
                        "--output-dir", str(tmp_path / "runs")])


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_xla_mirrored_run(tiny_preset, conll_dir, tmp_path,
                                          precision):
    import keras
    import math

    try:
        run_dir = train_ner.main([
            "--backbone", str(tiny_preset), "--data-dir", str(conll_dir),
            "--epochs", "1", "--batch-size", "4", "--max-length", "8",
            "--precision", precision, "--jit-compile", "--strategy",
            "mirrored", "--output-dir", str(tmp_path / "runs"),
            "--run-name", "mixed", "--no-export"])
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    record = json.loads((run_dir / "metrics.jsonl").read_text())
    assert math.isfinite(record["loss"])
    assert 0.0 <= record["val_entity_f1"] <= 1.0


def test_command_line_errors_are_one_line(conll_dir, tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.txt"
    bad.write_text("Anna B-PER\nvisited\n")
    result = subprocess.run(
        [sys.executable, "scripts/train_ner.py", "--train-file", str(bad),
         "--data-dir", str(conll_dir), "--output-dir",
         str(tmp_path / "runs")],
        capture_output=True, text=True,
        cwd=__import__("pathlib").Path(__file__).resolve().parents[2])
    assert result.returncode == 2
    assert f"error: {bad}:2: expected at least 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # nothing written on bad input


def test_crf_head_and_head_learning_rate_resume(tiny_preset, conll_dir,
                                               tmp_path, capsys):
    from tfllm.inference.ner import load_token_classifier
    from tfllm.training.callbacks import resume_state

    args = ["--backbone", str(tiny_preset), "--data-dir", str(conll_dir),
            "--epochs", "1", "--batch-size", "4", "--learning-rate", "1e-3",
            "--head", "crf", "--head-learning-rate", "1e-2",
            "--max-length", "8", "--output-dir", str(tmp_path / "runs"),
            "--run-name", "crf", "--no-export"]
    run_dir = train_ner.main(args)
    assert ("head learning rate 0.01 on casing_embedding, classifier_head, "
            "crf") in capsys.readouterr().out
    assert json.loads((run_dir / "config.json").read_text())["head"] == "crf"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["head"], summary["head_learning_rate"]) == ("crf", 0.01)
    training = json.loads((run_dir / "training_config.json").read_text())
    assert training["head_learning_rate"] == 0.01
    checkpoint, _ = resume_state(run_dir)
    assert checkpoint.optimizer.learning_rate_multipliers == {
        "^casing_embedding/": 10.0, "^classifier_head/": 10.0,
        "^crf/": 10.0}
    # Resumed: the checkpoint's CRFLoss and multipliers carry on.
    run_dir = train_ner.main(args[:5] + ["2"] + args[6:])
    assert "resuming" in capsys.readouterr().out
    records = [json.loads(line) for line in
               (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[1]["loss"] < records[0]["loss"]
    assert load_token_classifier(run_dir).head == "crf"
    with pytest.raises(SystemExit, match="--head 'hmm'"):
        train_ner.main(args + ["--head", "hmm"])

