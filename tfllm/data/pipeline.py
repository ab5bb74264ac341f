"""`tf.data` input pipelines: encode once, shuffle, bucket by length, prefetch.

Batches are formed from sequences of similar length (sequence-length
buckets) and padded only to the longest sequence in the batch, never to a
fixed 512.
"""

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class EncodedWindows:
    """Sub-token windows of a whole split, ready for `make_dataset`.

    Attributes:
        features: dict of int32 `tf.RaggedTensor` `[num_windows, (length)]`:
            `token_ids`, `padding_mask`, `segment_ids`, optional
            `casing_ids`.
        labels: int32 `tf.RaggedTensor` `[num_windows, (length)]`.
        sample_weight: float32 `tf.RaggedTensor`, 1 where a label counts.
    """

    features: dict
    labels: tf.RaggedTensor
    sample_weight: tf.RaggedTensor

    @property
    def num_windows(self):
        return int(self.labels.nrows())

    @property
    def lengths(self):
        return self.labels.row_lengths().numpy()

    @property
    def num_tokens(self):
        """Sub-tokens (special tokens included, padding excluded)."""
        return int(self.lengths.sum())


def encode_token_classification(
    preprocessor, words, word_labels, inside_ids=None, chunk_size=2048
):
    """Encodes sentences and word labels into labelled sub-token windows.

    Args:
        preprocessor: `TokenClassificationPreprocessor`.
        words: list of lists of str, one list per sentence.
        word_labels: list of lists of int, one label id per word.
        inside_ids: optional list of int for `label_all_tokens` (see
            `TokenClassificationPreprocessor.align_labels`).
        chunk_size: int. Sentences encoded per preprocessor call.

    Returns:
        `EncodedWindows`.
    """
    features, labels, weights = [], [], []
    for start in range(0, len(words), chunk_size):
        batch_words = tf.ragged.constant(
            words[start:start + chunk_size], dtype=tf.string,
            row_splits_dtype=tf.int64,
        )
        batch_labels = tf.ragged.constant(
            word_labels[start:start + chunk_size], dtype=tf.int32,
            row_splits_dtype=tf.int64,
        )
        encoding = preprocessor(batch_words)
        y, w = preprocessor.align_labels(encoding, batch_labels, inside_ids)
        token_ids = encoding["token_ids"]
        chunk = {
            "token_ids": token_ids,
            "padding_mask": tf.ones_like(token_ids),
            "segment_ids": tf.zeros_like(token_ids),
        }
        if "casing_ids" in encoding:
            chunk["casing_ids"] = encoding["casing_ids"]
        features.append(chunk)
        labels.append(y)
        weights.append(w)
    merged = {
        key: tf.concat([chunk[key] for chunk in features], axis=0)
        for key in features[0]
    }
    return EncodedWindows(
        merged, tf.concat(labels, axis=0), tf.concat(weights, axis=0)
    )


def bucket_boundaries(max_length, step=16):
    """Upper bounds of the sequence-length buckets: 16, 32, ... < max_length.

    Args:
        max_length: int. Longest window, special tokens included.
        step: int. Bucket width in sub-tokens.

    Returns:
        list of int (possibly empty).
    """
    return list(range(step, max_length, step))


def _assign_buckets(lengths, boundaries):
    return np.searchsorted(np.asarray(boundaries), lengths, side="right")


def steps_per_epoch(encoded, batch_size, max_length):
    """Exact number of batches `make_dataset` yields per epoch.

    Each bucket flushes its last, partial batch at the end of an epoch, so
    the count is the sum over buckets of `ceil(windows / batch_size)`.
    """
    buckets = _assign_buckets(encoded.lengths, bucket_boundaries(max_length))
    counts = np.bincount(buckets)
    return int(np.sum(-(-counts // batch_size)))


def _dense_element(*element):
    # Slices of a ragged tensor are 1-D ragged values; batching needs dense.
    def dense(t):
        return t.to_tensor() if isinstance(t, tf.RaggedTensor) else t

    return tf.nest.map_structure(dense, element)


def normalize_weights(dataset, accumulation_steps=1):
    """Rescales sample weights so a `"sum"` loss is the exact token mean.

    Each group of `accumulation_steps` consecutive global batches (one
    optimizer update) gets weights `w * accumulation_steps / W`, with `W` the
    sum of the group's weights. A loss object with `reduction="sum"` (which
    Keras does not divide by the replica count) then gives, after
    `tf.distribute` sums the replicas' gradients and the optimizer averages
    the accumulated micro-batches, exactly the gradient of the mean loss
    over every labelled token of the update, however the tokens fall into
    micro-batches and replicas. Per micro-batch or per replica means would
    weigh a token by the size of its batch instead.

    Args:
        dataset: `tf.data.Dataset` of `(features, labels, sample_weight)`
            global batches.
        accumulation_steps: int. Micro-batches per optimizer update.

    Returns:
        `tf.data.Dataset` with the same structure and rescaled weights.
    """
    scale = float(accumulation_steps)

    def rescale_group(x, y, w):
        total = w.reduce(
            tf.constant(0.0), lambda acc, batch: acc + tf.reduce_sum(batch)
        )
        factor = scale / tf.maximum(total, 1e-9)
        return tf.data.Dataset.zip((x, y, w)).map(
            lambda a, b, c: (a, b, c * factor)
        )

    return dataset.window(accumulation_steps).flat_map(rescale_group)


def make_dataset(
    encoded, batch_size, max_length, shuffle=False, seed=None, repeat=False,
    pad_to_bucket_boundary=False, accumulation_steps=None,
):
    """Builds the `tf.data` pipeline over encoded windows.

    Args:
        encoded: `EncodedWindows`.
        batch_size: int. Global batch size in windows.
        max_length: int. The preprocessor's `sequence_length`.
        shuffle: bool. Reshuffle every epoch (seeded).
        seed: int or None. Shuffle seed; a fixed seed repeats the order.
        repeat: bool. Repeat forever (for `fit` with `steps_per_epoch`).
        pad_to_bucket_boundary: bool. Pad each batch to its bucket's upper
            bound instead of its longest sequence, so sequence lengths take
            only `len(bucket_boundaries) + 1` values (for XLA).
        accumulation_steps: None, or micro-batches per update to apply
            `normalize_weights` (for a loss with `reduction="sum"`).

    Returns:
        `tf.data.Dataset` of `(features, labels, sample_weight)` with dense,
        0-padded `[batch_size, batch_max_length]` tensors.
    """
    dataset = tf.data.Dataset.from_tensor_slices(
        (encoded.features, encoded.labels, encoded.sample_weight)
    ).map(_dense_element)
    if shuffle:
        dataset = dataset.shuffle(
            encoded.num_windows, seed=seed, reshuffle_each_iteration=True
        )
    boundaries = bucket_boundaries(max_length)
    if pad_to_bucket_boundary:  # the last bucket then pads to max_length
        boundaries = boundaries + [max_length + 1]
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda x, y, w: tf.shape(y)[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        pad_to_bucket_boundary=pad_to_bucket_boundary,
    )
    if repeat:
        dataset = dataset.repeat()
    if accumulation_steps is not None:
        dataset = normalize_weights(dataset, accumulation_steps)
    return dataset.prefetch(tf.data.AUTOTUNE)
