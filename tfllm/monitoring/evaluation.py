"""Scores monitor alerts against the injected bursts of a ground truth.

A burst is `(topic, first_window, last_window)`; an alert *detects* it when
it has the same topic and its window is one of the burst's windows.
Precision = alerts that detect a burst / all alerts; recall = bursts
detected by at least one alert / all bursts; F1 their harmonic mean. An
alert that detects no burst is a false alarm; false alarms per 1,000
windows = 1000 x false alarms / (window x topic cells without a burst).
A burst alerted twice (the alarm fell and rose again inside it) counts
once for recall, and both alerts count as correct for precision; their
number is reported as `repeat_alerts`.
"""

import datetime

from tfllm.monitoring.evaluation_stream import EPOCH


def _window_number(iso, start_seconds, window_seconds):
    moment = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(((moment - EPOCH).total_seconds() - start_seconds)
               // window_seconds)


def score_alerts(alerts, truth):
    """Precision, recall, F1 and false alarms of `alerts`.

    Args:
        alerts: list of dicts with `topic` and `window_start` (ISO 8601).
        truth: the ground-truth dict of
            `tfllm.monitoring.evaluation_stream.build_stream` (`start`,
            `window_seconds`, `windows`, `topics`, `bursts`).

    Returns:
        dict: `alerts`, `bursts`, `true_alerts`, `false_alarms`,
        `detected_bursts`, `repeat_alerts`, `precision`, `recall`, `f1`
        (0.0 where undefined), `false_alarms_per_1000_windows`,
        `quiet_cells`, `missed` (list of the bursts not detected).
    """
    start = datetime.datetime.fromisoformat(
        truth["start"].replace("Z", "+00:00"))
    start_seconds = (start - EPOCH).total_seconds()
    seconds = truth["window_seconds"]
    burst_of = {}
    for number, burst in enumerate(truth["bursts"]):
        for window in range(burst["first_window"], burst["last_window"] + 1):
            burst_of[(burst["topic"], window)] = number
    detected, true_alerts, false_alarms = {}, 0, 0
    for alert in alerts:
        key = (alert["topic"], _window_number(alert["window_start"],
                                              start_seconds, seconds))
        if key in burst_of:
            true_alerts += 1
            detected[burst_of[key]] = detected.get(burst_of[key], 0) + 1
        else:
            false_alarms += 1
    bursts = len(truth["bursts"])
    precision = true_alerts / len(alerts) if alerts else 0.0
    recall = len(detected) / bursts if bursts else 0.0
    f1 = (2 * precision * recall / (precision + recall)
          if precision + recall else 0.0)
    quiet = truth["windows"] * len(truth["topics"]) - len(burst_of)
    return {
        "alerts": len(alerts), "bursts": bursts, "true_alerts": true_alerts,
        "false_alarms": false_alarms, "detected_bursts": len(detected),
        "repeat_alerts": sum(n - 1 for n in detected.values()),
        "precision": precision, "recall": recall, "f1": f1,
        "quiet_cells": quiet,
        "false_alarms_per_1000_windows": 1000 * false_alarms / quiet
        if quiet else 0.0,
        "missed": [b for i, b in enumerate(truth["bursts"])
                   if i not in detected],
    }
