"""CRFLoss: per-window NLL over labelled tokens, as a token-level loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.layers.crf import CRF
from tfllm.training.crf_loss import CRFLoss


def batch(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(3, 6, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=(3, 6)).astype(np.int32)
    # Window 0: 3 labelled sub-tokens (one in the middle is not); window 1:
    # 1; window 2: none (only padding and continuation pieces).
    weights = np.array([[1, 0, 1, 1, 0, 0], [0, 1, 0, 0, 0, 0],
                        [0, 0, 0, 0, 0, 0]], np.float32)
    return logits, labels, weights


def trained_crf():
    crf = CRF(4)
    rng = np.random.default_rng(1)
    for variable in crf.weights:
        variable.assign(rng.normal(size=variable.shape).astype(np.float32))
    return crf


def test_sum_of_normalised_weights_is_the_nll_per_labelled_token():
    logits, labels, weights = batch()
    crf = trained_crf()
    nll = -crf.log_likelihood(logits, labels, weights > 0).numpy()
    assert nll[2] == 0 and nll[0] > 0 and nll[1] > 0
    normalised = weights / weights.sum()  # normalize_weights: 1 / N
    loss = CRFLoss(crf, reduction="sum")(labels, logits, normalised)
    np.testing.assert_allclose(loss, nll.sum() / 4, rtol=1e-6)
    mean = CRFLoss(crf, reduction="mean_with_sample_weight")(
        labels, logits, weights)
    np.testing.assert_allclose(mean, nll.sum() / 4, rtol=1e-6)
    # Windows split over micro-batches or replicas sum to the same loss.
    parts = [CRFLoss(crf)(labels[i:i + 1], logits[i:i + 1],
                          normalised[i:i + 1]) for i in range(3)]
    np.testing.assert_allclose(sum(parts), loss, rtol=1e-6)


def test_unlabelled_positions_and_their_labels_are_ignored():
    logits, labels, weights = batch()
    crf = trained_crf()
    loss = CRFLoss(crf)(labels, logits, weights)
    other = np.where(weights > 0, labels, 3)
    noisy = np.where(weights[:, :, None] > 0, logits, 100.0)
    np.testing.assert_allclose(CRFLoss(crf)(other, noisy, weights), loss,
                               rtol=1e-6)
    # Negative labels mark unlabelled positions without weights.
    marked = np.where(weights > 0, labels, -1)
    np.testing.assert_allclose(CRFLoss(crf)(marked, logits), loss,
                               rtol=1e-6)


def test_unbound_loss_fails_and_config_round_trips():
    logits, labels, weights = batch()
    loss = CRFLoss(reduction="sum")
    with pytest.raises(ValueError, match="no CRF layer"):
        loss(labels, logits, weights)
    copy = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(copy, CRFLoss) and copy.reduction == "sum"
    assert copy.crf is None


def test_gradients_reach_logits_and_transitions_only_where_labelled():
    logits, labels, weights = batch()
    crf = trained_crf()
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = CRFLoss(crf)(labels, variable, weights / weights.sum())
    grads = tape.gradient(loss, [variable] + crf.trainable_variables)
    assert np.all(grads[0].numpy()[weights == 0] == 0)
    assert all(np.abs(g.numpy()).max() > 0 for g in grads)


def test_loss_and_gradients_compile_with_xla():
    logits, labels, weights = batch()
    crf = trained_crf()
    loss = CRFLoss(crf)

    @tf.function(jit_compile=True)
    def step(y, x, w):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(y, x, w)
        return value, tape.gradient(value, [x] + crf.trainable_variables)

    value, grads = step(labels, logits, weights)
    np.testing.assert_allclose(value, loss(labels, logits, weights),
                               rtol=1e-5)
    assert all(np.isfinite(g.numpy()).all() for g in grads)
