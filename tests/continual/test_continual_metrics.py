"""The accuracy matrix's figures against hand computations (issue 31)."""

import math

import numpy as np
import pytest

from tfllm.continual import metrics

NAN = math.nan
R = [[0.9, NAN, NAN],
     [0.7, 0.8, NAN],
     [0.6, 0.75, 0.85]]


def test_average_accuracy_bwt_and_forgetting_by_hand():
    # ACC = (0.6 + 0.75 + 0.85) / 3
    assert metrics.average_accuracy(R) == pytest.approx(2.2 / 3)
    # BWT = ((0.6 - 0.9) + (0.75 - 0.8)) / 2
    assert metrics.backward_transfer(R) == pytest.approx(-0.175)
    # forgetting: task 0 max(0.9, 0.7) - 0.6 = 0.3; task 1 0.8 - 0.75
    assert metrics.forgetting(R) == pytest.approx(0.175)


def test_forgetting_uses_the_best_earlier_score_not_the_first():
    matrix = [[0.5, NAN, NAN], [0.8, 0.9, NAN], [0.7, 0.9, 0.6]]
    # task 0 peaked after task 1 (0.8): forgetting 0.1, BWT +0.2
    assert metrics.forgetting(matrix) == pytest.approx((0.1 + 0.0) / 2)
    assert metrics.backward_transfer(matrix) == pytest.approx((0.2 + 0) / 2)


def test_forward_transfer_by_hand():
    matrix = [[0.9, 0.4, NAN], [0.7, 0.8, 0.5], [0.6, 0.75, 0.85]]
    # ((R[0,1] - b1) + (R[1,2] - b2)) / 2 = ((0.4 - 0.2) + (0.5 - 0.3)) / 2
    assert metrics.forward_transfer(matrix, [0.1, 0.2, 0.3]) == \
        pytest.approx(0.2)
    assert metrics.forward_transfer(matrix, None) is None


def test_single_task_and_summary():
    assert metrics.backward_transfer([[0.7]]) == 0.0
    summary = metrics.summarize(R)
    assert summary["R"][0] == [0.9, None, None]
    assert summary["average_accuracy"] == pytest.approx(2.2 / 3)


def test_missing_lower_triangle_is_an_error():
    with pytest.raises(ValueError, match=r"R\[1, :2\]"):
        metrics.average_accuracy([[0.9, NAN], [NAN, 0.8]])
    with pytest.raises(ValueError, match="square"):
        metrics.backward_transfer(np.zeros((2, 3)))
