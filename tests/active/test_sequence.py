"""Sentence-level NER uncertainty (issue 31, active learning)."""

import numpy as np
import pytest

from tfllm.active.sequence import aggregate
from tfllm.active.sequence import sequence_least_confidence
from tfllm.active.sequence import sequence_uncertainty
from tfllm.active.strategies import least_confidence_scores


def test_aggregate_respects_the_mask():
    scores = np.array([[0.1, 0.5, 9.0], [0.2, 0.4, 0.6], [7.0, 7.0, 7.0]])
    mask = np.array([[1, 1, 0], [1, 1, 1], [0, 0, 0]], bool)
    # Row 0 ignores the padded 9.0; row 2 has no words: 0.
    np.testing.assert_allclose(aggregate(scores, mask, "max"), [0.5, 0.6, 0])
    np.testing.assert_allclose(aggregate(scores, mask, "sum"), [0.6, 1.2, 0])
    np.testing.assert_allclose(aggregate(scores, mask, "mean"),
                               [0.3, 0.4, 0])
    with pytest.raises(ValueError, match="max, mean, sum"):
        aggregate(scores, mask, "median")


def test_sequence_least_confidence_of_word_probabilities():
    # Sentence 0: words with max p .9 and .6 (third word padding, max p
    # .2 would win otherwise): least confidence .1 and .4 -> max .4,
    # mean .25. Sentence 1: one word, max p .7 -> .3.
    p = np.array([[[.9, .1], [.6, .4], [.2, .8]],
                  [[.7, .3], [.5, .5], [.5, .5]]])
    mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    np.testing.assert_allclose(
        sequence_uncertainty(p, mask, least_confidence_scores, "max"),
        [0.4, 0.3])
    np.testing.assert_allclose(
        sequence_uncertainty(p, mask, least_confidence_scores, "mean"),
        [0.25, 0.3])
    np.testing.assert_allclose(sequence_least_confidence([0.75, 1.0]),
                               [0.25, 0.0])
