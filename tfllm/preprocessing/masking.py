"""Dynamic masking for masked-LM pre-training, inside the `tf.data` map.

BERT (Devlin et al. 2019, Sec. 3.1 and appendix A.1) selects 15% of the
tokens of a sequence for prediction; of those, 80% become `[MASK]`, 10% a
random token and 10% stay unchanged. RoBERTa (Liu et al. 2019, Sec. 4.1)
draws the mask anew every time a sequence is seen (dynamic masking).

Here the mask of a batch is a stateless function of `(seed, index)`, with
`index` the batch's position in the repeated input stream: it differs from
epoch to epoch, is the same for the same seed, and is the same again when a
resumed run skips the stream to the same step.

Padding and special tokens are never selected, whatever their ids: a
position is a candidate only if `padding_mask` is 1 there and
its id is not one of `special_token_ids` (which should include the pad id).
"""

import math

import tensorflow as tf


def select_positions(token_ids, padding_mask, special_token_ids, mask_rate,
                     max_predictions, seed):
    """Chooses the positions to predict in each sequence.

    Each sequence with `n` candidate positions gets `min(max_predictions,
    max(1, round(mask_rate * n)))` of them (none if `n == 0`), uniformly
    at random without replacement.

    Args:
        token_ids: int `[batch_size, sequence_length]`.
        padding_mask: int or bool `[batch_size, sequence_length]`, 0 on
            padding.
        special_token_ids: list of int. Never selected (`[CLS]`, `[SEP]`,
            `[PAD]`, `[MASK]`, ...).
        mask_rate: float in (0, 1].
        max_predictions: int. Width of the outputs.
        seed: int `[2]` tensor, a stateless RNG seed.

    Returns:
        `(positions, weights)`: int32 `[batch_size, max_predictions]`
        positions (selected ones first, the rest 0) and float32 weights, 1
        on selected positions and 0 elsewhere.
    """
    token_ids = tf.convert_to_tensor(token_ids)
    candidate = tf.cast(padding_mask, tf.bool)
    for special in special_token_ids:
        candidate &= tf.not_equal(token_ids, tf.cast(special, token_ids.dtype))
    scores = tf.random.stateless_uniform(tf.shape(token_ids), seed)
    scores = tf.where(candidate, scores, -1.0)
    width = tf.shape(token_ids)[1]
    k = tf.minimum(max_predictions, width)
    top_scores, positions = tf.math.top_k(scores, k=k)
    count = tf.reduce_sum(tf.cast(candidate, tf.float32), axis=1)
    chosen = tf.where(
        count > 0, tf.maximum(1.0, tf.floor(mask_rate * count + 0.5)), 0.0)
    chosen = tf.minimum(chosen, tf.cast(max_predictions, tf.float32))
    rank = tf.range(k, dtype=tf.float32)[tf.newaxis, :]
    weights = tf.cast((rank < chosen[:, tf.newaxis]) & (top_scores >= 0.0),
                      tf.float32)
    positions = tf.cast(positions, tf.int32) * tf.cast(weights, tf.int32)
    pad = [[0, 0], [0, max_predictions - k]]
    return tf.pad(positions, pad), tf.pad(weights, pad)


def mask_tokens(token_ids, padding_mask, seed, *, vocabulary_size,
                mask_token_id, special_token_ids, mask_rate=0.15,
                max_predictions=None, mask_token_rate=0.8,
                random_token_rate=0.1):
    """BERT's masking of a batch: select, then `[MASK]`/random/unchanged.

    Args:
        token_ids: int `[batch_size, sequence_length]`.
        padding_mask: int `[batch_size, sequence_length]`, 0 on padding.
        seed: int `[2]` tensor, a stateless RNG seed.
        vocabulary_size: int. Random replacements are drawn uniformly from
            the ids in `[0, vocabulary_size)` that are not special.
        mask_token_id: int. The `[MASK]` id.
        special_token_ids: list of int. Never selected nor drawn.
        mask_rate: float. Share of candidate tokens selected (0.15).
        max_predictions: int or None. Selected positions per sequence at
            most; None: `ceil(mask_rate * sequence_length)`.
        mask_token_rate: float. Share of selected tokens set to `[MASK]`.
        random_token_rate: float. Share set to a random token; the rest
            (`1 - mask_token_rate - random_token_rate`) stay unchanged.

    Returns:
        dict: `token_ids` (masked, same shape and dtype), `mask_positions`
        (int32 `[batch_size, max_predictions]`), `mask_ids` (the original
        ids there, int32) and `mask_weights` (float32, 1 where selected).
    """
    token_ids = tf.convert_to_tensor(token_ids)
    if max_predictions is None:
        max_predictions = tf.cast(
            tf.math.ceil(mask_rate * tf.cast(tf.shape(token_ids)[1],
                                             tf.float32)), tf.int32)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    positions, weights = select_positions(
        token_ids, padding_mask, special_token_ids, mask_rate,
        max_predictions, seeds[0])
    original = tf.gather(token_ids, positions, batch_dims=1)
    draw = tf.random.stateless_uniform(tf.shape(positions), seeds[1])
    allowed = tf.constant(
        sorted(set(range(vocabulary_size)) - set(special_token_ids)),
        token_ids.dtype)
    random_ids = tf.gather(allowed, tf.random.stateless_uniform(
        tf.shape(positions), seeds[2], maxval=tf.size(allowed),
        dtype=tf.int32))
    replaced = tf.where(
        draw < mask_token_rate,
        tf.cast(mask_token_id, token_ids.dtype),
        tf.where(draw < mask_token_rate + random_token_rate, random_ids,
                 original))
    selected = weights > 0
    rows = tf.broadcast_to(
        tf.range(tf.shape(positions)[0])[:, tf.newaxis], tf.shape(positions))
    indices = tf.boolean_mask(tf.stack([rows, positions], axis=-1), selected)
    masked = tf.tensor_scatter_nd_update(
        token_ids, indices, tf.boolean_mask(replaced, selected))
    return {
        "token_ids": masked,
        "mask_positions": positions,
        "mask_ids": tf.cast(original, tf.int32),
        "mask_weights": weights,
    }


class DynamicMasking:
    """A `make_dataset` batch transform that masks every batch anew.

    Turns a batch `(features, labels, weights)` of packed blocks into
    masked-LM inputs: features `token_ids` (masked), `padding_mask`,
    `segment_ids`, `mask_positions`; labels the original ids at those
    positions; weights 1 on selected positions, 0 on the padding of
    `mask_positions` (so `normalize_weights` averages over masked tokens).

    Args:
        vocabulary_size: int.
        mask_token_id: int.
        special_token_ids: list of int (pad, `[CLS]`, `[SEP]`, `[MASK]`,
            `[UNK]`...); never selected, whatever their values.
        sequence_length: int. Longest block; sets the number of predictions
            per block, `ceil(mask_rate * sequence_length)`.
        mask_rate, mask_token_rate, random_token_rate: floats, see
            `mask_tokens`. Defaults 0.15, 0.8, 0.1.
        seed: int. With the batch index, the stateless RNG seed.

    Examples:
    ```python
    masking = DynamicMasking(vocabulary_size=30, mask_token_id=4,
                             special_token_ids=[0, 1, 2, 3, 4],
                             sequence_length=16)
    dataset = make_dataset(encoded, 8, 16, batch_transform=masking)
    ```
    """

    def __init__(self, vocabulary_size, mask_token_id, special_token_ids,
                 sequence_length, mask_rate=0.15, mask_token_rate=0.8,
                 random_token_rate=0.1, seed=0):
        if not 0 < mask_rate <= 1:
            raise ValueError(f"mask_rate must be in (0, 1], got {mask_rate}")
        if mask_token_rate + random_token_rate > 1:
            raise ValueError(
                "mask_token_rate + random_token_rate must be <= 1")
        self.vocabulary_size = vocabulary_size
        self.mask_token_id = mask_token_id
        self.special_token_ids = sorted(set(int(i) for i in special_token_ids))
        self.max_predictions = math.ceil(mask_rate * sequence_length)
        self.mask_rate = mask_rate
        self.mask_token_rate = mask_token_rate
        self.random_token_rate = random_token_rate
        self.seed = seed

    def __call__(self, index, batch):
        x, _, _ = batch if len(batch) == 3 else (*batch, None)
        seed = tf.stack([tf.constant(self.seed, tf.int64),
                         tf.cast(index, tf.int64)])
        out = mask_tokens(
            x["token_ids"], x["padding_mask"], seed,
            vocabulary_size=self.vocabulary_size,
            mask_token_id=self.mask_token_id,
            special_token_ids=self.special_token_ids,
            mask_rate=self.mask_rate, max_predictions=self.max_predictions,
            mask_token_rate=self.mask_token_rate,
            random_token_rate=self.random_token_rate,
        )
        features = dict(x)
        features["token_ids"] = out["token_ids"]
        features["mask_positions"] = out["mask_positions"]
        return features, out["mask_ids"], out["mask_weights"]
