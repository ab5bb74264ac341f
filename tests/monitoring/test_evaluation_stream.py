"""The seeded evaluation stream: reproducible, ground truth = bursts."""

import collections
import datetime

import pytest

from tfllm.data.text_files import TextExample
from tfllm.monitoring.evaluation_stream import StreamSpec
from tfllm.monitoring.evaluation_stream import build_stream
from tfllm.monitoring.evaluation_stream import split_folds
from tfllm.monitoring.stream import parse_time


def _pool():
    labels = ["negative"] * 5 + ["neutral"] * 25 + ["positive"] * 10
    return [TextExample(f"{label} sentence {i}", label)
            for i, label in enumerate(labels)]


SPEC = StreamSpec(windows=60, window_seconds=600, start="2026-01-05T00:00:00Z",
                  topics=("x", "y"), texts_per_window=8, bursts=3,
                  max_burst_windows=2, burst_negatives=6, warmup_windows=10,
                  gap_windows=5, disorder_seconds=30, seed=7)


def test_same_seed_same_stream_other_seed_other_stream():
    first = build_stream(_pool(), SPEC)
    assert build_stream(_pool(), SPEC) == first
    other = build_stream(_pool(), StreamSpec(**{**SPEC.__dict__, "seed": 8}))
    assert other[0] != first[0]


def test_ground_truth_matches_the_negative_excess_in_the_records():
    records, truth = build_stream(_pool(), SPEC)
    assert len(truth["bursts"]) == 3 and truth["records"] == len(records)
    start = parse_time(SPEC.start)
    cells = collections.Counter()
    totals = collections.Counter()
    for r in records:
        cell = (r["topic"], int((parse_time(r["time"]) - start) // 600))
        totals[cell] += 1
        cells[cell] += r["gold"] == "negative"
    burst_cells = set()
    previous_end = -1
    for b in truth["bursts"]:
        assert b["first_window"] >= SPEC.warmup_windows
        assert b["first_window"] - previous_end > SPEC.gap_windows
        previous_end = b["last_window"]
        assert b["start"] == (datetime.datetime(2026, 1, 5) + datetime.
                              timedelta(minutes=10 * b["first_window"])
                              ).isoformat(timespec="milliseconds") + "Z"
        for w in range(b["first_window"], b["last_window"] + 1):
            burst_cells.add((b["topic"], w))
            assert cells[(b["topic"], w)] >= SPEC.burst_negatives
    quiet = [cells[c] / totals[c] for c in totals if c not in burst_cells]
    burst = [cells[c] / totals[c] for c in burst_cells]
    # Pool share 5/40; bursts add 6 negatives to ~8 texts.
    assert sum(quiet) / len(quiet) < 0.25 < min(burst)


def test_split_folds_holds_out_one_fold_without_shared_texts():
    examples = _pool() + [TextExample("neutral sentence 10", "neutral")]
    pool, train = split_folds(examples, 5, 2, seed=42)
    assert not {e.text for e in pool} & {e.text for e in train}
    assert len(pool) + len(train) <= len(examples)
    assert {e.label for e in pool} == {"negative", "neutral", "positive"}
    with pytest.raises(ValueError, match="--fold"):
        split_folds(examples, 5, 6)
