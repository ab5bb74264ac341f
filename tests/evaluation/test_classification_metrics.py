import numpy as np
import pytest

from tfllm.evaluation.classification_metrics import mean_and_std
from tfllm.evaluation.classification_metrics import most_confused
from tfllm.evaluation.classification_metrics import multi_label_report
from tfllm.evaluation.classification_metrics import single_label_report
from tfllm.evaluation.classification_metrics import tune_thresholds

LABELS = ["a", "b", "c"]


def test_single_label_report():
    gold = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 2, 1]
    result = single_label_report(gold, predicted, LABELS)
    assert result["accuracy"] == pytest.approx(3 / 6)
    # F1: a 0.8, b 0.4, c 0; macro 0.4; weighted (3*.8 + 2*.4) / 6.
    assert result["macro_f1"] == pytest.approx(0.4)
    assert result["weighted_f1"] == pytest.approx(3.2 / 6)
    assert result["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 1, 0]]
    assert result["most_confused"] == [
        {"gold": "a", "predicted": "b", "count": 1},
        {"gold": "b", "predicted": "c", "count": 1},
        {"gold": "c", "predicted": "b", "count": 1}]
    assert result["report"]["c"]["support"] == 1
    assert "precision" in result["report_text"]


def test_labels_without_support_are_listed():
    result = single_label_report([0, 0], [0, 0], LABELS)
    assert set(result["report"]) >= set(LABELS)
    assert np.array(result["confusion_matrix"]).shape == (3, 3)


def test_most_confused_orders_by_count():
    matrix = [[5, 0, 3], [4, 5, 0], [0, 3, 5]]
    pairs = most_confused(matrix, LABELS, top=2)
    assert [(p["gold"], p["predicted"], p["count"]) for p in pairs] == [
        ("b", "a", 4), ("a", "c", 3)]


def test_multi_label_report_and_thresholds():
    gold = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    probabilities = np.array([[0.3, 0.1], [0.4, 0.9], [0.1, 0.7],
                              [0.2, 0.2]])
    result = multi_label_report(gold, probabilities >= 0.5, ["x", "y"])
    assert result["accuracy"] == pytest.approx(0.5)  # rows 3 and 4
    assert result["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 2))
    thresholds = tune_thresholds(probabilities, gold)
    # x: 0.3 and 0.4 are positives, 0.2 a negative -> a cut in (0.2, 0.3].
    assert 0.2 < thresholds[0] <= 0.3
    assert thresholds[1] == 0.5  # 0.5 already separates y; ties go to 0.5
    tuned = multi_label_report(gold, probabilities >= thresholds, ["x", "y"])
    assert tuned["accuracy"] == 1.0
    assert tune_thresholds(probabilities, np.zeros_like(gold)) == [0.5, 0.5]


def test_mean_and_std():
    mean, std = mean_and_std([0.9, 0.8, 1.0])
    assert (mean, std) == (pytest.approx(0.9), pytest.approx(0.1))
    assert mean_and_std([0.5]) == (0.5, 0.0)
