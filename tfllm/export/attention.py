"""Attention masks that survive full-integer (int8) quantization.

Keras masks attention by replacing the scores of padded keys with a huge
negative number (`-0.7 * float32 max` in `ops.dot_product_attention`, `-1e9`
in `layers.Softmax`). In float that is exact. In a full-integer TFLite model
every tensor gets one int8 scale calibrated on its observed range: the
masked score tensor's range then spans ~1e38, its scale is ~1e36 per step,
and every real score rounds to the same int8 value, so attention becomes
uniform over the real tokens: the accuracy collapses
(tensorflow/tensorflow#44306: quantized BERT classifiers at chance)
whenever sequences are padded to a fixed length.

`bounded_attention_masks(model)` swaps, while a model is traced for
conversion, the attention of every `keras.layers.MultiHeadAttention`
(KerasHub's `CachedMultiHeadAttention` included) for the same computation
with a bounded mask: a padded key gets the row's lowest score minus
`MASK_MARGIN` (16) instead of -inf. Its softmax weight is then at most
`exp(-16)` = 1.1e-7 of the row's largest, so in float32 the outputs match
the Keras model to ~1e-5 (a 128-token row has at most 127 such keys), and
the int8 range of the tensor is the real scores' spread plus 16.
"""

import contextlib

import keras
from keras import ops

MASK_MARGIN = 16.0


def _bounded_compute_attention(self, query, key, value, attention_mask=None,
                               training=None, return_attention_scores=False,
                               use_causal_mask=False):
    """`MultiHeadAttention._compute_attention` with a bounded mask.

    Shapes as in Keras: query `[B, T, N, H]`, key and value `[B, S, N, H]`,
    attention_mask bool/int `[B, T, S]` (or broadcastable). Inference
    only: attention dropout is not applied.

    Returns:
        `(attention_output [B, T, N, H], attention_probs [B, N, T, S])`.

    Raises:
        NotImplementedError: `use_causal_mask=True` (encoders only).
    """
    if use_causal_mask:
        raise NotImplementedError(
            "bounded_attention_masks supports encoders (no causal mask)")
    query = ops.multiply(
        query, ops.cast(self._inverse_sqrt_key_dim, query.dtype))
    scores = ops.einsum(self._dot_product_equation, key, query)
    if attention_mask is not None:
        # As `MultiHeadAttention._masked_softmax`: add the head axes.
        axis = -len(self._attention_axes) * 2 - 1
        for _ in range(len(scores.shape) - len(attention_mask.shape)):
            attention_mask = ops.expand_dims(attention_mask, axis=axis)
        keep = ops.broadcast_to(ops.cast(attention_mask, "bool"),
                                ops.shape(scores))
        floor = ops.min(scores, axis=-1, keepdims=True) - MASK_MARGIN
        scores = ops.where(keep, scores, floor)
    probs = ops.softmax(scores, axis=-1)
    return ops.einsum(self._combine_equation, probs, value), probs


def attention_layers(model):
    """Every `keras.layers.MultiHeadAttention` inside `model`."""
    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.MultiHeadAttention)]


@contextlib.contextmanager
def bounded_attention_masks(model):
    """Within the block, `model`'s attention uses bounded masks.

    Trace (export) the model inside the block; the layers get their own
    attention back on exit, also after an exception.

    Args:
        model: a Keras model with `MultiHeadAttention` layers (a task model
            on a KerasHub encoder).

    Yields:
        int: how many attention layers were swapped.
    """
    layers = attention_layers(model)
    for layer in layers:
        layer._compute_attention = _bounded_compute_attention.__get__(layer)
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer._compute_attention
