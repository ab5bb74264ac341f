"""GlobalPointer layer: RoPE, shapes, config, mixed precision (BR-21)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.layers.global_pointer import GlobalPointer
from tfllm.layers.global_pointer import rotary_position_embedding


def test_rope_hand_value_and_relative_positions():
    """RoPE turns pair m at position p by p * base^(-2m/d): for d = 2,
    [0, 1] at position 1 becomes [-sin 1, cos 1]; a 4-wide pair 1 turns
    by p / 100 (base 10000)."""
    x = tf.constant([[[1.0, 0.0], [0.0, 1.0]]])
    np.testing.assert_allclose(
        rotary_position_embedding(x).numpy()[0],
        [[1.0, 0.0], [-np.sin(1.0), np.cos(1.0)]], atol=1e-6)
    y = tf.constant([[[0.0, 0.0, 1.0, 0.0]] * 3])
    out = rotary_position_embedding(y).numpy()[0, 2]
    np.testing.assert_allclose(out, [0, 0, np.cos(0.02), np.sin(0.02)],
                               atol=1e-6)
    # Scores depend on positions only through their difference.
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 8)).astype(np.float32)
    seq = np.zeros((1, 7, 8), np.float32)

    def score(m, n):
        a, b = seq.copy(), seq.copy()
        a[0, m], b[0, n] = q, k
        ra = rotary_position_embedding(tf.constant(a)).numpy()[0, m]
        rb = rotary_position_embedding(tf.constant(b)).numpy()[0, n]
        return float(ra @ rb)

    assert score(0, 2) == pytest.approx(score(4, 6), abs=1e-5)
    assert score(0, 2) != pytest.approx(score(0, 3), abs=1e-3)
    with pytest.raises(ValueError, match="even"):
        rotary_position_embedding(tf.zeros((1, 2, 3)))


@pytest.mark.parametrize("efficient", [True, False])
def test_scores_shape_formula_and_config(efficient):
    """Scores [B, T, T, types] equal the paper's formula by hand."""
    layer = GlobalPointer(3, head_size=4, efficient=efficient)
    x = keras.random.normal((2, 5, 6), seed=1)
    out = layer(x).numpy()
    assert out.shape == (2, 5, 5, 3)
    h = layer.projection(x).numpy()
    d = 4
    if efficient:
        q = rotary_position_embedding(tf.constant(h[..., :d])).numpy()
        k = rotary_position_embedding(tf.constant(h[..., d:])).numpy()
        bias = layer.type_bias(h).numpy() / 2
        want = (np.einsum("bid,bjd->bij", q, k)[..., None] / 2
                + bias[:, :, None, :3] + bias[:, None, :, 3:])
    else:
        h = h.reshape(2, 5, 3, 2 * d)
        q = rotary_position_embedding(tf.constant(h[..., :d])).numpy()
        k = rotary_position_embedding(tf.constant(h[..., d:])).numpy()
        want = np.einsum("bitd,bjtd->bijt", q, k) / 2
    np.testing.assert_allclose(out, want, atol=1e-5)
    clone = GlobalPointer.from_config(layer.get_config())
    assert (clone.num_types, clone.head_size, clone.efficient) == (
        3, 4, efficient)
    with pytest.raises(ValueError, match="head_size"):
        GlobalPointer(2, head_size=5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_span_head_under_mixed_precision(policy):
    """BR-21: under a mixed policy the head runs in float32 and the loss of
    a tiny model is finite (no 1e12 constant meets float16)."""
    import sys
    sys.path.insert(0, "tests")
    from tiny import NER_LABELS, tiny_backbone
    from tfllm.models.token_classifier import TokenClassifier

    keras.mixed_precision.set_global_policy(policy)
    try:
        model = TokenClassifier(tiny_backbone(1), NER_LABELS,
                                casing_features=False, head_size=8,
                                head="efficient_global_pointer")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.classifier_head.compute_dtype == "float32"
    x = {"token_ids": tf.constant([[2, 8, 9, 10, 3, 0]]),
         "padding_mask": tf.constant([[1, 1, 1, 1, 1, 0]]),
         "segment_ids": tf.zeros((1, 6), tf.int32)}
    scores = model(x)
    assert scores.dtype == tf.float32 and scores.shape == (1, 6, 6, 3)
    y = tf.constant([[0, 5, 6, 0, 0, 0]])
    w = tf.constant([[0, 1, 1, 0, 0, 0]], tf.float32)
    loss = model.training_loss()(y, scores * 1e3, w)  # large scores too
    assert np.isfinite(float(loss)) and float(loss) > 0
