import numpy as np
import pytest

from tfllm.retrieval.decisions import combine
from tfllm.retrieval.decisions import fallback_report
from tfllm.retrieval.decisions import fit_threshold
from tfllm.retrieval.decisions import fit_weight
from tfllm.retrieval.decisions import intent_probabilities


def test_intent_probabilities_max_and_vote_by_hand():
    scores = np.array([[0.9, 0.8, 0.7]])
    ids = np.array([[2, 0, 1]])
    entry_intents = np.array([1, 0, 0])  # entries 0 -> 1, 1 -> 0, 2 -> 0
    w = np.exp(20 * (scores[0] - 0.9))   # neighbour weights
    # max: intent 0's best is entry 2 (0.9), intent 1's is entry 0 (0.8).
    want = np.array([w[0], w[1]]) / (w[0] + w[1])
    got = intent_probabilities(scores, ids, entry_intents, 3, "max")
    np.testing.assert_allclose(got[0], [want[0], want[1], 0.0])
    # vote: intent 0 gets entries 2 and 1 (0.9 and 0.7).
    vote = np.array([w[0] + w[2], w[1]]) / w.sum()
    got = intent_probabilities(scores, ids, entry_intents, 3, "vote")
    np.testing.assert_allclose(got[0], [vote[0], vote[1], 0.0])
    with pytest.raises(ValueError, match="aggregation"):
        intent_probabilities(scores, ids, entry_intents, 3, "mean")


def test_fit_threshold_separates_constructed_scores():
    rng = np.random.default_rng(0)
    right = rng.uniform(0.7, 0.95, 80)
    wrong = rng.uniform(0.2, 0.5, 20)
    confidence = np.concatenate([right, wrong])
    correct = np.arange(100) < 80
    threshold = fit_threshold(confidence, correct)
    assert wrong.max() < threshold <= right.min()
    report = fallback_report(confidence, correct, threshold)
    assert (report["precision"], report["recall"]) == (1.0, 1.0)
    assert report["handover_rate"] == 0.2
    assert report["answered_accuracy"] == 1.0


def test_fit_threshold_with_overlap_maximises_f1():
    confidence = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    correct = np.array([False, False, True, False, True, True])
    threshold = fit_threshold(confidence, correct)
    # Handing over {0.1, 0.2}: P 1, R 2/3, F1 0.8; {..0.4}: P 3/4, R 1,
    # F1 0.857 -- the best cut hands over the four lowest.
    assert 0.4 < threshold <= 0.5
    report = fallback_report(confidence, correct, threshold)
    assert report["precision"] == 0.75 and report["recall"] == 1.0
    assert fit_threshold([0.3, 0.4], [True, True]) == 0.3  # nothing wrong


def test_combine_and_fit_weight():
    classifier = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    retrieval = np.array([[0.2, 0.8], [0.1, 0.9], [0.3, 0.7]])
    np.testing.assert_allclose(combine(classifier, retrieval, 0.25),
                               0.25 * classifier + 0.75 * retrieval)
    weight, accuracy = fit_weight(classifier, retrieval, np.array([0, 1, 1]))
    # Query 0 needs 0.2 + 0.7w > 0.8 - 0.7w (w > 3/7), query 1 needs
    # 0.9 - 0.5w > 0.1 + 0.5w (w < 0.8): the first grid weight is 0.5.
    assert weight == pytest.approx(0.5) and accuracy == 1.0
