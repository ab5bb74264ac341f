"""Bounded attention masks for int8 export (tfllm.export.attention)."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tfllm.export.attention import MASK_MARGIN
from tfllm.export.attention import attention_layers
from tfllm.export.attention import bounded_attention_masks


def _encoder(dropout):
    keras.utils.set_random_seed(0)
    return keras_hub.models.BertBackbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=12, dropout=dropout)


def _padded():
    ids = np.random.default_rng(0).integers(4, 50, (3, 12)).astype("int32")
    mask = np.zeros((3, 12), "int32")
    for row, length in enumerate([12, 7, 3]):
        mask[row, :length] = 1
    ids[mask == 0] = 0
    return {"token_ids": ids, "padding_mask": mask,
            "segment_ids": np.zeros_like(ids)}


# dropout 0 takes Keras's ops.dot_product_attention path, dropout > 0 the
# layers.Softmax path: both are replaced.
@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_same_outputs_on_real_tokens_and_restored(dropout):
    backbone = _encoder(dropout)
    x = _padded()
    keep = x["padding_mask"].astype(bool)
    expected = backbone(x, training=False)["sequence_output"].numpy()

    traced = tf.function(lambda inputs: backbone(inputs, training=False))
    with bounded_attention_masks(backbone) as swapped:
        got = traced(x)["sequence_output"].numpy()
    assert swapped == 2 == len(attention_layers(backbone))
    # A padded key weighs at most exp(-16) of the row's largest score.
    assert np.exp(-MASK_MARGIN) < 2e-7
    np.testing.assert_allclose(got[keep], expected[keep], atol=1e-5)
    for layer in attention_layers(backbone):
        assert "_compute_attention" not in vars(layer)


def test_scores_stay_within_the_real_spread_plus_margin():
    """The tensor that int8 calibrates spans real scores + 16, not 1e38."""
    backbone = _encoder(0.0)
    layer = attention_layers(backbone)[0]
    x = _padded()
    seen = {}
    softmax = keras.ops.softmax

    def spy(scores, axis=-1):
        seen["scores"] = keras.ops.convert_to_numpy(scores)
        return softmax(scores, axis=axis)

    with bounded_attention_masks(backbone):
        keras.ops.softmax = spy
        try:
            query = np.random.default_rng(1).normal(
                size=(3, 12, 16)).astype("float32")
            layer(query, query, attention_mask=x["padding_mask"][:, None, :],
                  training=False)
        finally:
            keras.ops.softmax = softmax
    scores = seen["scores"]  # [batch, heads, query, key]
    real = x["padding_mask"].astype(bool)[:, None, None, :]
    real = np.broadcast_to(real, scores.shape)
    for b in range(3):
        row_real = scores[b][real[b]]
        assert scores[b].min() >= row_real.min() - MASK_MARGIN - 1e-4
        assert scores[b].max() == pytest.approx(row_real.max())
