"""Per-topic windows, watermark closing, lateness and late records."""

import pytest

from tfllm.monitoring.windows import WindowAggregator
from tfllm.monitoring.windows import parse_duration


def _cells(closed):
    return [(c.window, c.topic, c.counts, c.examples) for c in closed]


def test_counts_per_topic_and_window_with_empty_cells():
    agg = WindowAggregator(60, lateness_seconds=0, max_examples=1)
    agg.add(5, "a", "negative", "bad 1")
    agg.add(30, "b", "positive", "good")
    agg.add(50, "a", "negative", "bad 2")
    agg.add(70, "a", "neutral", "meh")
    closed = agg.advance()  # watermark 70: window 0 ends at 60
    assert _cells(closed) == [
        (0, "a", {"negative": 2}, ["bad 1"]),
        (0, "b", {"positive": 1}, [])]
    agg.add(250, "b", "negative", "late news")  # skips windows 2 and 3
    closed = agg.advance()
    assert _cells(closed) == [
        (1, "a", {"neutral": 1}, []), (1, "b", {}, []),
        (2, "a", {}, []), (2, "b", {}, []),
        (3, "a", {}, []), (3, "b", {}, [])]
    assert [c.total for c in closed] == [1, 0, 0, 0, 0, 0]
    assert _cells(agg.flush()) == [
        (4, "a", {}, []), (4, "b", {"negative": 1}, ["late news"])]


def test_out_of_order_within_lateness_counts_after_it_is_late():
    agg = WindowAggregator(60, lateness_seconds=30)
    agg.add(10, "t", "negative", "x")
    agg.add(80, "t", "neutral", "y")  # window 1; window 0 open till 90
    assert agg.advance() == []
    assert agg.add(55, "t", "negative", "z")  # out of order, in time
    agg.add(95, "t", "neutral", "w")
    closed = agg.advance()
    assert _cells(closed) == [(0, "t", {"negative": 2}, ["x", "z"])]
    assert not agg.add(20, "t", "negative", "too late")
    assert agg.flush()[0].counts == {"neutral": 2}


def test_state_round_trip_gives_the_same_windows():
    events = [(5, "a", "negative"), (65, "b", "neutral"),
              (70, "a", "negative"), (130, "a", "positive"),
              (200, "b", "negative")]
    whole = WindowAggregator(60, 10)
    halves = WindowAggregator(60, 10)
    out_whole, out_halves = [], []
    for t, topic, label in events:
        whole.add(t, topic, label, "t")
        out_whole += _cells(whole.advance())
    for t, topic, label in events[:3]:
        halves.add(t, topic, label, "t")
        out_halves += _cells(halves.advance())
    restored = WindowAggregator(60, 10)
    restored.set_state(halves.get_state())
    for t, topic, label in events[3:]:
        restored.add(t, topic, label, "t")
        out_halves += _cells(restored.advance())
    assert out_halves == out_whole and len(out_whole) == 6


def test_parse_duration():
    assert parse_duration("1h") == 3600
    assert parse_duration("15m") == 900
    assert parse_duration("1.5d") == 129600
    assert parse_duration("45") == 45
    with pytest.raises(ValueError, match="1 hour"):
        parse_duration("1 hour")
    with pytest.raises(ValueError):
        WindowAggregator(0)
