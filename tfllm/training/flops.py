"""Model FLOPs of transformer training and model FLOP utilisation (MFU).

Training FLOPs per token of a transformer with `N` non-embedding parameters,
`L` layers of width `H` (heads x head size) and a context of `S` tokens:

    6 N + 12 L H S

- `6 N`: every weight that multiplies an activation costs a multiply and an
  add (2 FLOPs) per token in the forward pass and twice that in the backward
  pass (Kaplan et al. 2020, "Scaling Laws for Neural Language Models",
  Sec. 2.1 and Table 1). Embedding tables are looked up, not multiplied, so
  they are left out of `N`.
- `12 L H S`: the attention scores `Q K^T` and the weighted sum of the
  values, 2 `S H` FLOPs each per token and layer in the forward pass, times
  3 for forward plus backward (Chowdhery et al. 2022, "PaLM: Scaling
  Language Modeling with Pathways", Appendix B; there written `12 L H Q T`
  with `H` heads of size `Q`). An encoder attends to the whole sequence, so
  nothing is halved for causal masking.

MFU is the model FLOPs per second actually achieved (`flops_per_token x
tokens/s`, padding tokens not counted) over the peak FLOPs per second of the
hardware (PaLM, Appendix B); `matmul_peak` measures a practical peak, a large
dense matmul, rather than a datasheet figure.
"""

import time

import numpy as np
import tensorflow as tf


def training_flops_per_token(
    non_embedding_params, num_layers, hidden_dim, seq_len
):
    """Training FLOPs per token, `6 N + 12 L H S` (see the module docstring).

    Args:
        non_embedding_params: int. `N`, trainable parameters outside the
            embedding tables.
        num_layers: int. `L`, transformer layers.
        hidden_dim: int. `H`, width of the attention (heads x head size).
        seq_len: float. `S`, tokens each token attends to; for batches of
            unequal sentences use `effective_seq_len`.

    Returns:
        float: FLOPs (multiply and add counted separately) per token for one
        forward and backward pass.
    """
    return 6.0 * non_embedding_params + 12.0 * num_layers * hidden_dim * seq_len


def effective_seq_len(lengths):
    """The `S` for which `12 L H S` per token gives a set's attention FLOPs.

    A sequence of `s` real tokens costs `12 L H s` attention FLOPs per token,
    `12 L H s^2` in all; over a set of sequences the per-token average is
    `12 L H sum(s^2) / sum(s)`. Padding is not counted.

    Args:
        lengths: sequence of int, real (non-padding) tokens per sequence.

    Returns:
        float: `sum(s^2) / sum(s)` in tokens (0.0 for no tokens).
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    total = lengths.sum()
    return float((lengths**2).sum() / total) if total else 0.0


def non_embedding_params(model):
    """Counts trainable parameters outside embedding tables.

    Embedding tables are recognised by their variable name, `embeddings`
    (Keras `Embedding` and KerasHub `ReversibleEmbedding` token tables,
    KerasHub `PositionEmbedding`, segment, casing and lexicon embeddings).
    Frozen variables (e.g. the unused pooler of a `TokenClassifier`) do not
    count.

    Args:
        model: a built `keras.Model` or layer.

    Returns:
        int.
    """
    return int(sum(
        int(np.prod(v.shape)) for v in model.trainable_weights
        if v.name != "embeddings"
    ))


def model_flop_utilisation(flops_per_token, tokens_per_second, peak_flops):
    """MFU: achieved model FLOPs per second over the peak.

    Args:
        flops_per_token: float. From `training_flops_per_token`.
        tokens_per_second: float. Real (non-padding) training tokens per
            second.
        peak_flops: float. Peak FLOPs per second (e.g. `matmul_peak`).

    Returns:
        float in [0, 1] for a sound peak.
    """
    return flops_per_token * tokens_per_second / peak_flops


def matmul_peak(size=2048, dtype="float32", repeats=10):
    """Measures TensorFlow's dense matmul throughput on the default device.

    Multiplies two random `[size, size]` matrices `repeats` times after one
    untimed warm-up call; each timed call is synchronised by reading one
    element of the result back. A matmul costs `2 size^3` FLOPs.

    Args:
        size: int. Matrix side.
        dtype: str. `"float32"` or `"bfloat16"`, ...
        repeats: int. Timed calls.

    Returns:
        dict: `best_gflops` (fastest call) and `median_gflops`, in GFLOP/s;
        `size`, `dtype`, `repeats`, `device`.
    """
    a = tf.cast(tf.random.stateless_normal([size, size], seed=[1, 2]), dtype)
    b = tf.cast(tf.random.stateless_normal([size, size], seed=[3, 4]), dtype)
    tf.linalg.matmul(a, b)[0, 0].numpy()  # warm-up: kernels, thread pools
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        c = tf.linalg.matmul(a, b)
        c[0, 0].numpy()
        seconds.append(time.perf_counter() - start)
    flops = 2.0 * size**3
    return {
        "best_gflops": flops / min(seconds) / 1e9,
        "median_gflops": flops / float(np.median(seconds)) / 1e9,
        "size": size,
        "dtype": dtype,
        "repeats": repeats,
        "device": c.device,
    }
