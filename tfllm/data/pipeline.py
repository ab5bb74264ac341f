"""`tf.data` input pipelines: encode once, shuffle, bucket by length, prefetch.

One pipeline serves token classification (a label per sub-token) and
sequence classification (a label per text).

Batches are formed from sequences of similar length (sequence-length
buckets) and padded only to the longest sequence in the batch, never to a
fixed 512.
"""

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class EncodedWindows:
    """Encoded sequences of a whole split, ready for `make_dataset`.

    The sequences are sub-token windows (token classification) or whole
    texts and text pairs (sequence classification). Lengths, bucketing and
    token counts come from `features["token_ids"]`, so labels may be one per
    token or one per sequence.

    Attributes:
        features: dict of int32 `tf.RaggedTensor` `[num_windows, (length)]`:
            `token_ids`, `padding_mask`, `segment_ids`, optional
            `casing_ids` and `lexicon_ids`.
        labels: int32 `tf.RaggedTensor` `[num_windows, (length)]` (one label
            per token), int32 `[num_windows]` (one class per sequence) or
            float32 `[num_windows, num_labels]` (multi-hot, multi-label).
        sample_weight: float32, shaped like `labels` without a label axis
            (`[num_windows, (length)]` or `[num_windows]`): 1 where a token
            label counts, or per-sequence (class) weights. None: no weights.
    """

    features: dict
    labels: tf.Tensor
    sample_weight: tf.Tensor = None

    @property
    def num_windows(self):
        return int(self.features["token_ids"].nrows())

    @property
    def lengths(self):
        return self.features["token_ids"].row_lengths().numpy()

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
        for name in ("casing_ids", "lexicon_ids"):
            if name in encoding:
                chunk[name] = encoding[name]
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


def encode_text_classification(
    preprocessor, texts, labels, text_pairs=None, sample_weight=None,
    chunk_size=2048,
):
    """Encodes texts (or text pairs) and their labels, one per sequence.

    Args:
        preprocessor: `TextClassificationPreprocessor`.
        texts: list of str.
        labels: int array-like `[num_texts]` (class ids) or float
            `[num_texts, num_labels]` (multi-hot, multi-label).
        text_pairs: list of str or None. Second texts of pairs.
        sample_weight: float array-like `[num_texts]` or None (e.g. class
            weights of each example).
        chunk_size: int. Texts encoded per preprocessor call.

    Returns:
        `EncodedWindows` with one sequence per text.
    """
    chunks = []
    for start in range(0, len(texts), chunk_size):
        stop = start + chunk_size
        pair = None
        if text_pairs is not None:
            pair = tf.constant(text_pairs[start:stop], tf.string)
        chunks.append(
            preprocessor(tf.constant(texts[start:stop], tf.string), pair)
        )
    features = {
        key: tf.concat([chunk[key] for chunk in chunks], axis=0)
        for key in ("token_ids", "padding_mask", "segment_ids")
    }
    labels = np.asarray(labels)
    labels = tf.constant(
        labels, tf.float32 if labels.ndim == 2 else tf.int32
    )
    if sample_weight is not None:
        sample_weight = tf.constant(sample_weight, tf.float32)
    return EncodedWindows(features, labels, sample_weight)


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


def padded_batch_shapes(encoded, batch_size, max_length):
    """The `(batch, length)` shapes of `make_dataset(pad_to_bucket_boundary=True)`.

    With XLA (`jit_compile`), each distinct input shape is compiled once;
    this is the set of shapes, hence the most compilations a run makes.

    Returns:
        sorted list of `(batch_size, padded_length)` int pairs.
    """
    boundaries = bucket_boundaries(max_length)
    uppers = [b - 1 for b in boundaries] + [max_length]
    buckets = _assign_buckets(encoded.lengths, boundaries)
    shapes = set()
    for bucket, count in enumerate(np.bincount(buckets)):
        if count:
            shapes.add((min(batch_size, int(count)), uppers[bucket]))
            if count % batch_size:
                shapes.add((int(count % batch_size), uppers[bucket]))
    return sorted(shapes)


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
    if accumulation_steps == 1:
        # One batch per update: a plain map gives the same weights without
        # `window` + `flat_map` + `reduce` (see below), which tf.data cannot
        # optimise ("Input of Window will not be optimized").
        def rescale(x, y, w):
            return x, y, w * (scale / tf.maximum(tf.reduce_sum(w), 1e-9))

        return dataset.map(rescale)
    # `reduce` runs the window as a dataset of its own, which with autotune
    # on starts an optimisation thread per window, cancelled when the window
    # ends: TensorFlow logged "Optimization loop failed: CANCELLED" about
    # every three batches. The window's few elements need no autotuning.
    no_autotune = tf.data.Options()
    no_autotune.autotune.enabled = False

    def rescale_group(x, y, w):
        total = w.with_options(no_autotune).reduce(
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
    batch_transform=None,
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
        batch_transform: None, or a callable `(index, batch) -> batch`
            applied to every padded batch before weights are normalised;
            `index` is the int64 position of the batch in the (repeated)
            stream, so a transform seeded by it (dynamic masking,
            `tfllm.preprocessing.masking`) draws anew every epoch, yet
            repeats exactly when a resumed run skips to the same step.

    Returns:
        `tf.data.Dataset` of `(features, labels, sample_weight)` (or
        `(features, labels)` without weights): dense, 0-padded
        `[batch_size, batch_max_length]` features; labels and weights
        padded alike when they are per token.
    """
    elements = (encoded.features, encoded.labels)
    if encoded.sample_weight is not None:
        elements += (encoded.sample_weight,)
    dataset = tf.data.Dataset.from_tensor_slices(elements).map(
        _dense_element
    )
    if shuffle:
        dataset = dataset.shuffle(
            encoded.num_windows, seed=seed, reshuffle_each_iteration=True
        )
    boundaries = bucket_boundaries(max_length)
    if pad_to_bucket_boundary:  # the last bucket then pads to max_length
        boundaries = boundaries + [max_length + 1]
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda x, *_: tf.shape(x["token_ids"])[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        pad_to_bucket_boundary=pad_to_bucket_boundary,
    )
    if repeat:
        dataset = dataset.repeat()
    if batch_transform is not None:
        dataset = dataset.enumerate().map(
            lambda index, batch: batch_transform(index, batch),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
        )
    if accumulation_steps is not None:
        dataset = normalize_weights(dataset, accumulation_steps)
    return dataset.prefetch(tf.data.AUTOTUNE)
