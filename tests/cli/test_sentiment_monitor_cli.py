"""scripts/sentiment_monitor.py: flags, topics, --evaluate, a real export.

(Named `_cli` because tests/apps/test_sentiment_monitor.py exists and the
test folders are not packages.)
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tfllm.cli.sentiment_monitor import main
from tfllm.data.text_files import TextExample
from tfllm.monitoring.evaluation import score_alerts
from tfllm.monitoring.evaluation_stream import StreamSpec
from tfllm.monitoring.evaluation_stream import build_stream

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _stream(tmp_path):
    labels = ["negative"] * 6 + ["neutral"] * 30 + ["positive"] * 12
    pool = [TextExample(f"{label} news {i}", label)
            for i, label in enumerate(labels)]
    spec = StreamSpec(windows=150, window_seconds=600, topics=("x", "y"),
                      texts_per_window=20, bursts=4, max_burst_windows=2,
                      burst_negatives=15, warmup_windows=20, gap_windows=10,
                      seed=3)
    records, truth = build_stream(pool, spec)
    path = tmp_path / "stream.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    return path, truth


def gold_of(texts):
    return [t.split()[0] for t in texts]


def test_evaluate_scores_the_alerts_it_wrote(tmp_path, capsys):
    path, truth = _stream(tmp_path)
    out = tmp_path / "out"
    summary = main(["--input", str(path), "--output-dir", str(out),
                    "--window", "10m", "--lateness", "3m", "--no-plots",
                    "--no-tensorboard", "--evaluate",
                    str(tmp_path / "truth.json")], classify=gold_of)
    alerts = [json.loads(line) for line in
              (out / "alerts.jsonl").read_text().splitlines()]
    expected = score_alerts(alerts, truth)
    assert json.loads((out / "evaluation.json").read_text()) == expected
    assert summary["evaluation"] == expected
    # Bursts of +15 negatives on ~20 texts at a 12.5% base rate: found.
    assert expected["recall"] == 1.0 and expected["false_alarms"] == 0
    assert "precision 1.0000, recall 1.0000, F1 1.0000" in (
        capsys.readouterr().out)


def test_keyword_topics_and_flag_errors(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(
        json.dumps({"time": 60 * i, "text": t}) + "\n"
        for i, t in enumerate(["negative bank loss", "neutral phone network",
                               "positive weather", "neutral bank"] * 30)))
    main(["--input", str(path), "--output-dir", str(tmp_path / "o"),
          "--window", "30m", "--topic-keywords",
          "banks=bank;telecom=network,phone", "--no-plots",
          "--no-tensorboard"], classify=gold_of)
    rows = [json.loads(line) for line in
            (tmp_path / "o" / "windows.jsonl").read_text().splitlines()]
    assert {r["topic"] for r in rows} == {"banks", "telecom", "other"}
    first = {r["topic"]: r["counts"] for r in rows if r["window"] == 0}
    # 30 one-minute records per window: 8 cycles minus two lines.
    assert first == {"banks": {"negative": 8, "neutral": 7},
                     "other": {"positive": 7}, "telecom": {"neutral": 8}}
    from tfllm.data.errors import UserInputError

    with pytest.raises(UserInputError, match="--model"):
        main(["--input", str(path), "--output-dir", str(tmp_path / "p")])
    with pytest.raises(UserInputError, match="duration"):
        main(["--input", str(path), "--output-dir", str(tmp_path / "q"),
              "--window", "1 hour"], classify=gold_of)


def test_script_with_an_exported_model_reads_stdin(tmp_path):
    from tfllm.export.classifier_serving import export_classifier
    from tiny import tiny_text_classifier

    export_classifier(tiny_text_classifier(sequence_length=8, seed=1),
                      tmp_path / "model")
    rng = np.random.default_rng(0)
    texts = ["great movie", "awful plot", "the awful movie", "great"]
    lines = "".join(json.dumps({"time": float(t), "text": texts[i % 4]})
                    + "\n" for i, t in enumerate(
                        np.sort(rng.uniform(0, 7200, 200))))
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sentiment_monitor.py"),
         "--model", str(tmp_path / "model"), "--output-dir",
         str(tmp_path / "out"), "--window", "1h", "--no-plots"],
        input=lines + "{broken\n", capture_output=True, text=True,
        cwd=ROOT, check=True)
    assert "200 records, 1 bad" in result.stdout
    assert "-:201: not JSON" in result.stderr
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "windows.jsonl").read_text().splitlines()]
    assert [r["topic"] for r in rows] == ["all", "all"]
    assert sum(r["total"] for r in rows) == 200


def test_rerun_with_other_window_settings_is_a_one_line_error(
        tmp_path, capsys, monkeypatch):
    from tfllm.cli.sentiment_monitor import cli

    path, _ = _stream(tmp_path)
    out = tmp_path / "out"
    flags = ["--input", str(path), "--output-dir", str(out), "--no-plots",
             "--no-tensorboard", "--lateness", "3m"]
    main([*flags, "--window", "10m"], classify=gold_of)
    monkeypatch.setattr(
        "tfllm.cli.sentiment_monitor.main",
        lambda argv=None: main([*flags, "--window", "20m"], classify=gold_of))
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        cli()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out / 'state.json'}: saved with")
    assert "Traceback" not in err
