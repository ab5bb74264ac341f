"""Outside case BR-10 and the precision switch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.training.precision import set_precision
from tiny import tiny_token_classifier


@pytest.fixture(autouse=True)
def restore_policy():
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def test_unknown_precision():
    with pytest.raises(ValueError, match="precision must be one of"):
        set_precision("fp8")


def test_br10_masked_softmax_rows_in_float16():
    softmax = keras.layers.Softmax(dtype="float16")
    rows = [([2.0, 1.0, -3.0], [1, 1, 0]), ([-30.0, -40.0], [0, 0]),
            ([-30.0, 5.0, -40.0], [0, 1, 0])]
    out = [softmax(tf.constant([s], tf.float16),
                   mask=tf.constant([m]) > 0).numpy()[0]
           for s, m in rows]
    np.testing.assert_allclose(out[0], [0.7311, 0.2689, 0.0], atol=1e-3)
    assert np.isfinite(out[1]).all()
    np.testing.assert_allclose(out[2], [0.0, 1.0, 0.0], atol=1e-3)


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_br10_left_padded_batch_is_finite_and_close_to_fp32(precision):
    reference = tiny_token_classifier(seed=0)
    weights = reference.get_weights()
    set_precision(precision)
    model = tiny_token_classifier(seed=0)
    model.set_weights(weights)
    ids = tf.constant([[0, 0, 0, 8, 13], [8, 26, 13, 14, 7]], tf.int32)
    mask = tf.cast(ids != 0, tf.int32)
    x = {"token_ids": ids, "padding_mask": mask,
         "segment_ids": tf.zeros_like(ids), "casing_ids": mask * 3}
    labels = tf.constant([[0, 0, 0, 5, 1], [5, 0, 1, 0, 0]])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight")
    with tf.GradientTape() as tape:
        logits = model(x, training=False)
        loss = loss_fn(labels, logits, tf.cast(mask, tf.float32))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert logits.dtype == tf.float32  # head and loss stay float32
    assert np.isfinite(logits.numpy()).all() and np.isfinite(float(loss))
    for g in gradients:
        if g is not None:
            assert np.isfinite(tf.convert_to_tensor(g).numpy()).all()
    expected = reference(x, training=False).numpy()
    real = mask.numpy().astype(bool)
    np.testing.assert_allclose(logits.numpy()[real], expected[real], atol=1e-2)
