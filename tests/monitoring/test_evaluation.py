"""Alert scoring against injected bursts, on a hand case."""

import pytest

from tfllm.monitoring.evaluation import score_alerts

TRUTH = {
    "start": "2026-01-05T00:00:00Z", "window_seconds": 3600,
    "windows": 100, "topics": ["a", "b"],
    "bursts": [
        {"topic": "a", "first_window": 10, "last_window": 12},
        {"topic": "b", "first_window": 30, "last_window": 30},
        {"topic": "a", "first_window": 50, "last_window": 51},
    ],
}


def _alert(topic, window):
    hour = f"2026-01-{5 + window // 24:02d}T{window % 24:02d}:00:00Z"
    return {"topic": topic, "window_start": hour}


def test_precision_recall_f1_and_false_alarms_by_hand():
    alerts = [_alert("a", 11), _alert("a", 12),  # one burst, twice
              _alert("a", 30),  # right window, wrong topic: false alarm
              _alert("b", 30), _alert("b", 70)]  # hit; false alarm
    result = score_alerts(alerts, TRUTH)
    assert result["true_alerts"] == 3 and result["false_alarms"] == 2
    assert result["detected_bursts"] == 2 and result["repeat_alerts"] == 1
    assert result["precision"] == pytest.approx(3 / 5)
    assert result["recall"] == pytest.approx(2 / 3)
    p, r = 3 / 5, 2 / 3
    assert result["f1"] == pytest.approx(2 * p * r / (p + r))
    # 200 cells, 6 of them in bursts.
    assert result["quiet_cells"] == 194
    assert result["false_alarms_per_1000_windows"] == pytest.approx(
        2000 / 194)
    assert result["missed"] == [TRUTH["bursts"][2]]


def test_no_alerts_scores_zero():
    result = score_alerts([], TRUTH)
    assert (result["precision"], result["recall"], result["f1"]) == (0, 0, 0)
