import keras
import numpy as np
import pytest

from tfllm.training.losses import SmoothedSparseCategoricalCrossentropy

LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], np.float32)
LABELS = np.array([0, 1], np.int32)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_matches_the_smoothed_target_formula():
    eps = 0.1
    loss = SmoothedSparseCategoricalCrossentropy(3, eps, reduction=None)
    target = np.full((2, 3), eps / 3) + (1 - eps) * np.eye(3)[LABELS]
    expected = -(target * _log_softmax(LOGITS)).sum(-1)
    got = keras.ops.convert_to_numpy(loss(LABELS, LOGITS))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Example 2 (label 1, logit 0.2 far below 3.0): smoothing lowers its
    # loss, since part of the target moves to the predicted class.
    plain = -_log_softmax(LOGITS)[1, 1]
    assert got[1] < plain


def test_zero_smoothing_is_the_sparse_cross_entropy_and_sums():
    ours = SmoothedSparseCategoricalCrossentropy(3, 0.0, reduction="sum")
    keras_loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(LABELS[:, None], LOGITS)),
        keras.ops.convert_to_numpy(keras_loss(LABELS, LOGITS)), rtol=1e-6)


def test_config_round_trip_and_bad_values():
    loss = SmoothedSparseCategoricalCrossentropy(5, 0.2, reduction="sum")
    copy = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (copy.num_classes, copy.label_smoothing, copy.reduction) == (
        5, 0.2, "sum")
    with pytest.raises(ValueError, match=r"label_smoothing must be in"):
        SmoothedSparseCategoricalCrossentropy(3, 1.0)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        SmoothedSparseCategoricalCrossentropy(1)
