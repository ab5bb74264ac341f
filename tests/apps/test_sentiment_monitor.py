"""The monitor end to end on a stream the test writes (injected classifier),
restart safety, --follow, bad records, and the SavedModel labeler."""

import collections
import json
import threading
import time

import numpy as np
import pytest

from tfllm.apps.sentiment_monitor import MonitorConfig
from tfllm.apps.sentiment_monitor import SavedModelLabeler
from tfllm.apps.sentiment_monitor import SentimentMonitor
from tfllm.monitoring import state as checkpoint
from tfllm.monitoring.alerts import AlertConfig
from tfllm.monitoring.stream import StreamReader

WINDOW = 60
BURST = ("a", 30)  # topic, window


def classify(texts):
    """Stand-in classifier: the label is the text's first word."""
    return [t.split()[0] for t in texts]


def write_stream(path, seed=0):
    """40 one-minute windows x topics a, b: ~10% negative, one burst."""
    rng = np.random.default_rng(seed)
    lines = []
    for window in range(40):
        for topic in ("a", "b"):
            n = 20 + (15 if (topic, window) == BURST else 0)
            for i in range(n):
                negative = rng.random() < 0.1 or i >= 20
                label = "negative" if negative else "neutral"
                t = window * WINDOW + rng.uniform(0, WINDOW)
                lines.append((t, {"time": round(t, 3), "topic": topic,
                                  "text": f"{label} {topic} {window} {i}"}))
    lines.sort(key=lambda x: x[0])
    path.write_text("".join(json.dumps(d) + "\n" for _, d in lines))
    return [d for _, d in lines]


def make_monitor(out, classifier=classify):
    config = MonitorConfig(window_seconds=WINDOW, lateness_seconds=0,
                           batch_size=32, max_examples=2)
    alerts = AlertConfig(baseline_windows=10, min_baseline_windows=5,
                         min_count=10, alpha=0.01, expected_tests=80)
    return SentimentMonitor(out, classifier, None, config, alerts)


def run(out, source, classifier=classify, max_records=None, **reader_args):
    monitor = make_monitor(out, classifier)
    try:
        reader = StreamReader(str(source), monitor.positions, **reader_args)
        return monitor.run(reader, max_records)
    finally:
        monitor.close()


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """The stream of `write_stream` and one whole run over it (shared: the
    restart tests compare their split runs with this one)."""
    folder = tmp_path_factory.mktemp("stream")
    source = folder / "s.jsonl"
    records = write_stream(source)
    summary = run(folder / "whole", source)
    return source, records, folder / "whole", summary


def test_counts_alert_and_outputs(stream):
    _, records, out, summary = stream
    assert summary["records"] == len(records) and summary["late_records"] == 0
    windows = rows(out / "windows.jsonl")
    expected = collections.Counter(
        (int(r["time"] // WINDOW), r["topic"], r["text"].split()[0])
        for r in records)
    got = collections.Counter()
    for row in windows:
        for label, n in row["counts"].items():
            got[(row["window"], row["topic"], label)] = n
    assert got == expected and len(windows) == 80
    alerts = rows(out / "alerts.jsonl")
    assert [(a["topic"], a["window_start"]) for a in alerts] == [
        ("a", "1970-01-01T00:30:00Z")]
    alert = alerts[0]
    assert alert["total"] == 35 and alert["negative"] >= 15
    assert len(alert["examples"]) == 2
    assert all(e.startswith("negative a 30") for e in alert["examples"])
    from scipy import stats
    assert alert["p_value"] == pytest.approx(stats.binom.sf(
        alert["negative"] - 1, 35, alert["baseline_share"]))
    assert (out / "trend_a.png").stat().st_size > 1000
    assert (out / "trend_b.png").is_file()
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_restart_after_a_crash_resumes_without_double_counting(stream,
                                                              tmp_path):
    source, _, whole, _ = stream
    calls = []

    def crashing(texts):
        calls.append(len(texts))
        if len(calls) == 20:
            raise RuntimeError("killed")
        return classify(texts)

    with pytest.raises(RuntimeError, match="killed"):
        run(tmp_path / "split", source, crashing)
    saved = checkpoint.load_state(tmp_path / "split" / "state.json")
    assert saved["counters"]["records"] == 19 * 32  # 19 batches done
    summary = run(tmp_path / "split", source)
    split = tmp_path / "split"
    for name in ("windows.jsonl", "alerts.jsonl"):
        assert (split / name).read_text() == (whole / name).read_text()
    assert summary["records"] == json.loads(
        (whole / "summary.json").read_text())["records"]


def test_outputs_written_after_the_last_checkpoint_are_dropped(
        stream, tmp_path, monkeypatch):
    source, _, whole, _ = stream
    real_save = checkpoint.save_state
    saves = []

    def dying_save(path, state):  # the process dies before checkpoint 40
        saves.append(1)
        if len(saves) == 40:
            raise KeyboardInterrupt
        real_save(path, state)

    monkeypatch.setattr(checkpoint, "save_state", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "split", source)
    monkeypatch.setattr(checkpoint, "save_state", real_save)
    half = (tmp_path / "split" / "windows.jsonl").read_text()
    run(tmp_path / "split", source)
    full = (whole / "windows.jsonl").read_text()
    assert (tmp_path / "split" / "windows.jsonl").read_text() == full
    assert full.startswith(half) and len(half) < len(full)


def test_max_records_stops_and_resumes_at_the_right_record(stream,
                                                          tmp_path):
    source, records, whole, _ = stream
    first = run(tmp_path / "split", source, max_records=1000)
    assert first["stopped_early"] and first["records"] == 1000
    assert first["resumed_after_records"] is None
    positions = checkpoint.load_state(
        tmp_path / "split" / "state.json")["positions"]
    assert positions[str(source)]["line"] == 1000
    second = run(tmp_path / "split", source)
    assert second["records"] == len(records)
    assert second["resumed_after_records"] == 1000
    assert json.loads((tmp_path / "split" / "summary.json").read_text())[
        "resumed_after_records"] == 1000
    for name in ("windows.jsonl", "alerts.jsonl"):
        assert (tmp_path / "split" / name).read_text() == (
            whole / name).read_text()


def test_bad_and_late_records_are_logged_not_dropped(tmp_path, capsys):
    source = tmp_path / "s.jsonl"
    source.write_text(
        '{"time": 5, "text": "neutral x"}\n{"time": 7, "text": \n'
        '{"time": 130, "text": "neutral y"}\n'
        '{"time": 10, "text": "negative late"}\n')
    summary = run(tmp_path / "out", source)
    assert (summary["records"], summary["bad_records"],
            summary["late_records"]) == (3, 1, 1)
    bad = rows(tmp_path / "out" / "bad_records.jsonl")
    assert [(b["source"], b["line"]) for b in bad] == [(str(source), 2)]
    late = rows(tmp_path / "out" / "late_records.jsonl")
    assert [(r["line"], r["label"]) for r in late] == [(4, "negative")]
    err = capsys.readouterr().err
    assert f"{source}:2: not JSON" in err and f"{source}:4" in err


def test_follow_processes_appended_records(tmp_path):
    records = write_stream(tmp_path / "all.jsonl")
    live = tmp_path / "live.jsonl"
    lines = (tmp_path / "all.jsonl").read_text().splitlines(keepends=True)
    live.write_text("".join(lines[:500]))

    def append():
        for start in range(500, len(lines), 400):
            time.sleep(0.2)
            with open(live, "a") as f:
                f.write("".join(lines[start:start + 400]))

    writer = threading.Thread(target=append)
    writer.start()
    summary = run(tmp_path / "out", live, follow=True, poll_seconds=0.05,
                  max_idle_seconds=1.5)
    writer.join()
    assert summary["records"] == len(records)
    alerts = rows(tmp_path / "out" / "alerts.jsonl")
    assert [(a["topic"], a["window_start"]) for a in alerts] == [
        ("a", "1970-01-01T00:30:00Z")]
    # Following keeps the last window open (more may come).
    state = checkpoint.load_state(tmp_path / "out" / "state.json")
    assert list(state["aggregator"]["open"]) == ["39"]


def test_settings_change_refuses_to_resume(tmp_path):
    write_stream(tmp_path / "s.jsonl")
    run(tmp_path / "out", tmp_path / "s.jsonl", max_records=100)
    with pytest.raises(ValueError, match="state.json: saved with"):
        SentimentMonitor(tmp_path / "out", classify,
                         config=MonitorConfig(window_seconds=120))


def test_saved_model_labeler_matches_the_model_and_caches(tmp_path):
    from tfllm.export.classifier_serving import export_classifier
    from tiny import tiny_text_classifier
    import tensorflow as tf

    model = tiny_text_classifier(sequence_length=8, seed=3)
    path = export_classifier(model, tmp_path / "sentiment")
    labeler = SavedModelLabeler(str(path.parent), batch_size=2)
    texts = ["great movie", "awful plot", "great movie", "so so", "plot"]
    expected = [model.id2label[i] for i in np.argmax(
        model.predict_logits(tf.constant(texts)).numpy(), axis=-1)]
    assert labeler(texts) == expected
    assert labeler.classified == 4  # the repeated text once
    assert labeler(texts[:2]) == expected[:2] and labeler.classified == 4
    with pytest.raises(FileNotFoundError):
        SavedModelLabeler(str(tmp_path / "none"))
