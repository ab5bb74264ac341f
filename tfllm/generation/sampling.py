"""Choosing the next token from logits: greedy, temperature, top-k, top-p.

The samplers are pure functions of `(logits, seed, step)`: random draws use
TensorFlow's stateless ops seeded by `[seed, step]`, so a fixed seed repeats
a generation exactly and one traced decoding loop serves every seed (the
seed is a tensor, not part of the trace). KerasHub's samplers
(`keras_hub.samplers.TopKSampler`, ...) keep a `SeedGenerator` variable
instead, which ties a trace to one sampler object.

References:
    Fan et al. (2018), "Hierarchical Neural Story Generation" (top-k).
    Holtzman et al. (2020), "The Curious Case of Neural Text Degeneration"
    (nucleus / top-p sampling).
"""

import tensorflow as tf


def greedy_tokens(logits):
    """The most likely token of each row.

    Args:
        logits: float `[batch_size, vocabulary_size]`.

    Returns:
        int32 `[batch_size]`: `argmax(logits, axis=-1)`.
    """
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def filter_logits(logits, temperature=1.0, top_k=0, top_p=1.0):
    """Scales logits by temperature and masks tokens outside top-k / top-p.

    Args:
        logits: float `[batch_size, vocabulary_size]`.
        temperature: float > 0. Logits are divided by it (below 1 sharpens,
            above 1 flattens the distribution).
        top_k: int. Keep only the `top_k` most likely tokens; 0 keeps all.
        top_p: float in (0, 1]. Keep the smallest set of most likely tokens
            whose probabilities sum to at least `top_p` (the most likely
            token is always kept); 1.0 keeps all.

    Returns:
        float32 `[batch_size, vocabulary_size]`: scaled logits, `-inf` where
        a token may not be drawn.

    Raises:
        ValueError: `temperature <= 0`, `top_k < 0` or `top_p` outside
            (0, 1].
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {top_k}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    logits = tf.cast(logits, tf.float32) / temperature
    minus_inf = tf.constant(-float("inf"), tf.float32)
    vocabulary_size = logits.shape[-1] or tf.shape(logits)[-1]
    if top_k and (not isinstance(vocabulary_size, int)
                  or top_k < vocabulary_size):
        kth = tf.math.top_k(logits, k=top_k).values[:, -1:]  # [batch, 1]
        logits = tf.where(logits < kth, minus_inf, logits)
    if top_p < 1.0:
        order = tf.argsort(logits, axis=-1, direction="DESCENDING")
        sorted_logits = tf.gather(logits, order, batch_dims=1)
        probabilities = tf.nn.softmax(sorted_logits, axis=-1)
        # Mass of the tokens ranked strictly before each token.
        before = tf.math.cumsum(probabilities, axis=-1, exclusive=True)
        sorted_logits = tf.where(before >= top_p, minus_inf, sorted_logits)
        # Scatter back to vocabulary order.
        inverse = tf.argsort(order, axis=-1)
        logits = tf.gather(sorted_logits, inverse, batch_dims=1)
    return logits


def sample_tokens(logits, seed, step, temperature=1.0, top_k=0, top_p=1.0):
    """Draws one token per row from the filtered distribution.

    Args:
        logits: float `[batch_size, vocabulary_size]`.
        seed: int32 scalar tensor or int. With `step`, fixes the draw.
        step: int32 scalar tensor or int. The decoding position, so each
            step draws anew.
        temperature, top_k, top_p: see `filter_logits`.

    Returns:
        int32 `[batch_size]`, always among the kept tokens.
    """
    filtered = filter_logits(logits, temperature, top_k, top_p)
    stateless_seed = tf.stack(
        [tf.cast(seed, tf.int32), tf.cast(step, tf.int32)]
    )
    drawn = tf.random.stateless_categorical(
        filtered, 1, seed=stateless_seed, dtype=tf.int32
    )
    return drawn[:, 0]
