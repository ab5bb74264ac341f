"""The in-batch softmax loss: logQ correction sign, accidental hits."""

import numpy as np
import pytest
import tensorflow as tf

from tfllm.recommendation.losses import MASKED_LOGIT
from tfllm.recommendation.losses import corrected_in_batch_logits
from tfllm.recommendation.losses import in_batch_softmax_loss
from tfllm.recommendation.losses import log_sampling_probabilities

S = np.array([[2.0, 1.0, 0.5], [0.5, 1.5, 1.0], [1.0, 0.0, 1.0]],
             np.float32)
IDS = np.array([7, 3, 9], np.int32)
Q = np.array([0.5, 0.2, 0.1], np.float32)
TOL = 1e-5


def losses(*args, **kwargs):
    return in_batch_softmax_loss(*args, **kwargs).numpy()


def test_outside_case_br17_logq_correction():
    """Outside case BR-17: the sign of the sampling-bias correction.

    Source: https://github.com/tensorflow/recommenders/issues/219 (TFRS'
    first `SamplingProbablityCorrection` added log q instead of
    subtracting it). Scores S, candidate ids [7, 3, 9], q [.5, .2, .1].
    """
    plain = losses(S, IDS)
    np.testing.assert_allclose(plain, [0.464369, 0.680270, 0.861995],
                               atol=TOL)
    assert plain.mean() == pytest.approx(0.668878, abs=TOL)

    log_q = np.log(Q)
    corrected = losses(S, IDS, log_q)
    np.testing.assert_allclose(corrected, [1.110327, 0.858752, 0.324934],
                               atol=TOL)
    assert corrected.mean() == pytest.approx(0.764671, abs=TOL)
    # The wrong sign (S + log q) gives 0.960573.
    assert abs(corrected.mean() - 0.960573) > 0.1
    assert losses(S, IDS, -log_q).mean() == pytest.approx(0.960573,
                                                           abs=TOL)

    logits = corrected_in_batch_logits(S, IDS, log_q).numpy()
    np.testing.assert_allclose(logits[0], [2.693147, 2.609438, 2.802585],
                               atol=TOL)


def test_outside_case_br17_accidental_hits():
    """Outside case BR-17, duplicate ids [7, 3, 7]: rows 0 and 2 share
    their positive, so each is removed from the other's negatives.

    Source: https://github.com/tensorflow/recommenders/issues/219.
    """
    dup = np.array([7, 3, 7], np.int32)
    removed = losses(S, dup)
    np.testing.assert_allclose(removed, [0.313262, 0.680270, 0.313262],
                               atol=TOL)
    assert removed.mean() == pytest.approx(0.435598, abs=TOL)
    # Kept, the hits are the plain loss.
    np.testing.assert_allclose(losses(S, dup, remove_accidental_hits=False),
                               [0.464369, 0.680270, 0.861995], atol=TOL)

    log_q = np.log(np.array([0.5, 0.2, 0.5], np.float32))
    assert losses(S, dup, log_q).mean() == pytest.approx(0.544490, abs=TOL)
    assert losses(S, dup, log_q, remove_accidental_hits=False).mean() == \
        pytest.approx(0.720914, abs=TOL)

    logits = corrected_in_batch_logits(S, dup).numpy()
    assert logits[0, 2] == MASKED_LOGIT and logits[2, 0] == MASKED_LOGIT
    # The diagonal (each row's own positive) is never masked.
    np.testing.assert_allclose(np.diag(logits), np.diag(S))


def test_log_sampling_probabilities():
    counts = np.array([0, 50, 20, 10, 0, 20])
    log_q = log_sampling_probabilities(counts)
    assert log_q.dtype == np.float32
    np.testing.assert_allclose(
        log_q, np.log([0.5 / 100, 0.5, 0.2, 0.1, 0.5 / 100, 0.2]), rtol=1e-6)
    # No counts at all: still finite.
    assert np.isfinite(log_sampling_probabilities(np.zeros(4))).all()


def numpy_cross_entropy(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.diag(log_softmax)


def test_logq_loss_equals_numpy_cross_entropy():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 6)).astype(np.float32)
    ids = np.array([4, 1, 4, 2, 9, 1], np.int32)
    log_q = np.log(rng.uniform(0.01, 0.5, size=6)).astype(np.float32)
    temperature = 0.5
    hits = (ids[:, None] == ids[None, :]) & ~np.eye(6, dtype=bool)
    expected_logits = np.where(hits, MASKED_LOGIT,
                               scores / temperature - log_q[None, :])
    got = losses(scores, ids, log_q, temperature=temperature)
    np.testing.assert_allclose(got, numpy_cross_entropy(expected_logits),
                               atol=TOL)
    np.testing.assert_allclose(
        corrected_in_batch_logits(scores, ids, log_q, temperature).numpy(),
        expected_logits, atol=TOL)


def test_half_precision_stays_finite():
    dup = np.array([7, 3, 7], np.int32)
    got = in_batch_softmax_loss(tf.constant(S, tf.float16), dup,
                                tf.constant(np.log(Q), tf.float16))
    assert got.dtype == tf.float32
    assert np.isfinite(got.numpy()).all()
