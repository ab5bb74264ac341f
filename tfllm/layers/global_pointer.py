"""GlobalPointer: a span head that scores every (start, end) pair per type.

Su, Murtadha, Pan, Hou, Sun, Huang, Wen, Liu (2022), "Global Pointer: Novel Efficient Span-based
Approach for Named Entity Recognition" (arXiv:2208.03054;
https://kexue.fm/archives/8373). For entity type `t`, position `i` gets a
start vector `q_i,t` and position `j` an end vector `k_j,t` (dense
projections of the encoder output, `head_size` wide each); both are rotated
by the rotary position embedding (RoPE; Su et al. 2021, "RoFormer", Sec.
3.4), so the score

    s_t(i, j) = <R(i) q_i,t, R(j) k_j,t> / sqrt(head_size)

sees the relative distance `j - i`. The span from sub-token `i` to
sub-token `j` (both inclusive) is an entity of type `t` when `s_t(i, j) > 0`
(nested and overlapping spans allowed).

Efficient GlobalPointer (Su, https://kexue.fm/archives/8877) shares one
`q`/`k` projection between the types and adds a per-type bias,
`s_t(i, j) = <R(i) q_i, R(j) k_j> / sqrt(head_size) + w_t^T [q_i; k_j] / 2`:
about `num_types` times fewer head parameters, and the variant Su reports
as at least as accurate on small data (CLUENER, CMeEE). The bias is the
dense layer over the projections of bert4keras's `EfficientGlobalPointer`.

This layer returns the raw scores, unmasked: which cells are valid (start
<= end, both real words) is decided where the word positions are known
(`tfllm.training.global_pointer_loss.span_mask`, and the decoding in
`tfllm.layers.span_decoding`).
"""

import math

import keras
import numpy as np
import tensorflow as tf

VARIANTS = ("global_pointer", "efficient_global_pointer")


def rotary_position_embedding(x, base=10000.0):
    """Rotates pairs of features by their position (RoPE), any length.

    Feature pair `(x_2m, x_2m+1)` at position `p` turns by the angle
    `p * base^(-2m / d)`: `[x_2m cos - x_2m+1 sin, x_2m+1 cos + x_2m sin]`
    (Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary Position
    Embedding", eq. 34; the interleaved pairs of bert4keras's
    `apply_rotary_position_embeddings`). Dot products of rotated vectors
    then depend on positions only through their difference.

    Args:
        x: float tensor `[batch_size, sequence_length, ..., d]`, `d` even;
            positions run along axis 1 from 0.
        base: float. Frequency base. Defaults to 10000.

    Returns:
        tensor of the shape and dtype of `x`.

    Raises:
        ValueError: `d` is odd.
    """
    d = x.shape[-1]
    if d is None or d % 2:
        raise ValueError(f"rotary_position_embedding needs an even last "
                         f"dimension, got {d}")
    frequencies = np.power(base, -np.arange(0, d, 2) / d).astype("float32")
    positions = tf.cast(tf.range(tf.shape(x)[1]), tf.float32)
    angles = positions[:, None] * frequencies[None, :]  # [T, d/2]
    angles = tf.repeat(angles, 2, axis=-1)  # [T, d]: m, m, m+1, m+1, ...
    # Broadcast over the batch (axis 0) and any axes between T and d.
    shape = [1, -1] + [1] * (len(x.shape) - 3) + [d]
    cos = tf.cast(tf.reshape(tf.cos(angles), shape), x.dtype)
    sin = tf.cast(tf.reshape(tf.sin(angles), shape), x.dtype)
    pairs = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [d // 2, 2]], 0))
    turned = tf.stack([-pairs[..., 1], pairs[..., 0]], axis=-1)
    turned = tf.reshape(turned, tf.shape(x))  # [-x1, x0, -x3, x2, ...]
    return x * cos + turned * sin


@keras.saving.register_keras_serializable(package="tfllm")
class GlobalPointer(keras.layers.Layer):
    """Span scores `s_t(i, j)` for every start `i`, end `j` and type `t`.

    Args:
        num_types: int. Number of entity types (`t`).
        head_size: int. Width of the start and end vectors (even). Defaults
            to 64, as in the paper.
        efficient: bool. Efficient GlobalPointer (one shared projection and
            a per-type bias) instead of one projection per type. Defaults
            to True.
        rope: bool. Rotate start and end vectors by RoPE. Defaults to True.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: float `[batch_size, sequence_length, hidden_dim]`.

    Returns:
        `[batch_size, sequence_length, sequence_length, num_types]` scores
        (start, end, type), unmasked, in the layer's compute dtype.

    Raises:
        ValueError: `num_types` < 1 or an odd `head_size`.

    Examples:
    ```python
    layer = GlobalPointer(num_types=3, head_size=8)
    scores = layer(keras.random.normal((2, 5, 16)))  # (2, 5, 5, 3)
    ```

    References:
        Su, Murtadha, Pan, Hou, Sun, Huang, Wen, Liu (2022), "Global Pointer: Novel Efficient
        Span-based Approach for Named Entity Recognition",
        arXiv:2208.03054. Su (2021), "Efficient GlobalPointer",
        https://kexue.fm/archives/8877.
    """

    def __init__(self, num_types, head_size=64, efficient=True, rope=True,
                 **kwargs):
        super().__init__(**kwargs)
        if int(num_types) < 1:
            raise ValueError(f"num_types must be >= 1: {num_types}")
        if int(head_size) < 2 or int(head_size) % 2:
            raise ValueError(f"head_size must be even and >= 2: {head_size}")
        self.num_types = int(num_types)
        self.head_size = int(head_size)
        self.efficient = bool(efficient)
        self.rope = bool(rope)
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        width = 2 * self.head_size * (1 if efficient else self.num_types)
        self.projection = keras.layers.Dense(
            width, kernel_initializer=init, dtype=self.dtype_policy,
            name="projection")
        self.type_bias = None
        if efficient:
            self.type_bias = keras.layers.Dense(
                2 * self.num_types, kernel_initializer=init,
                dtype=self.dtype_policy, name="type_bias")

    def build(self, input_shape):
        self.projection.build(input_shape)
        if self.type_bias is not None:
            self.type_bias.build(tuple(input_shape[:-1])
                                 + (2 * self.head_size,))

    def call(self, inputs):
        h = self.projection(inputs)  # [B, T, 2d] or [B, T, 2d * types]
        d = self.head_size
        if self.efficient:
            q, k = h[..., :d], h[..., d:]  # [B, T, d]
            if self.rope:
                q = rotary_position_embedding(q)
                k = rotary_position_embedding(k)
            # tf.expand_dims, not [..., None]: LiteRT has no builtin for a
            # new axis by strided slice on dynamic shapes.
            scores = tf.expand_dims(tf.einsum("bid,bjd->bij", q, k), 3)
            bias = self.type_bias(h) / 2.0  # [B, T, 2 * types]
            start = bias[..., :self.num_types]  # on the start position i
            end = bias[..., self.num_types:]  # on the end position j
            return (scores / math.sqrt(d) + tf.expand_dims(start, 2)
                    + tf.expand_dims(end, 1))
        shape = tf.concat([tf.shape(h)[:2], [self.num_types, 2 * d]], 0)
        h = tf.reshape(h, shape)  # [B, T, types, 2d]
        q, k = h[..., :d], h[..., d:]
        if self.rope:
            q = rotary_position_embedding(q)
            k = rotary_position_embedding(k)
        return tf.einsum("bitd,bjtd->bijt", q, k) / math.sqrt(d)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[1],
                self.num_types)

    def get_config(self):
        config = super().get_config()
        config.update({"num_types": self.num_types,
                       "head_size": self.head_size,
                       "efficient": self.efficient, "rope": self.rope})
        return config
