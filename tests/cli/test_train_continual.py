"""`tfllm train continual` on dataset folders written here (issue 31): the
run folder's report, heat map and TensorBoard logs."""

import json

from tfllm.cli.main import main as tfllm_main

WORDS = ["the board met", "anna visited lyon", "investors from porto",
         "the board of zorbex", "lyon and porto", "anna hires"]


def _write(folder):
    sst2 = folder / "sst2"
    sst2.mkdir()
    rows = "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(WORDS * 2))
    for name in ("train.tsv", "valid.tsv"):
        (sst2 / name).write_text("sentence\tlabel\n" + rows)
    banking = folder / "banking77"
    banking.mkdir()
    rows = "".join(f"{t},intent_{i % 3}\n" for i, t in enumerate(WORDS * 5))
    (banking / "train.csv").write_text("text,category\n" + rows)


def test_train_continual_writes_matrix_heat_map_and_logs(
        tmp_path, monkeypatch, tiny_preset):
    _write(tmp_path)
    monkeypatch.setenv("TFLLM_DATA_DIR", str(tmp_path))
    run_dir = tfllm_main([
        "train", "continual", "--tasks", "sst2,banking77", "--method",
        "multitask", "--backbone", str(tiny_preset),
        "--epochs", "1", "--batch-size", "4", "--max-length", "16",
        "--output-dir", str(tmp_path / "runs"), "--run-name", "mt"])
    report = json.loads((run_dir / "continual.json").read_text())
    assert report["tasks"] == ["sst2", "banking77"]
    assert report["method"] == "multitask"
    R = report["R"]
    assert len(R) == 1 and len(R[0]) == 2  # one row: all tasks at once
    assert report["average_accuracy"] == sum(R[0]) / 2
    png = (run_dir / "continual_R.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((run_dir / "logs").glob("events.out.tfevents.*"))
    config = (run_dir / "config.yaml").read_text()
    assert "method: multitask" in config
