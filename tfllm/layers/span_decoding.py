"""Spans and IOB2 tags from a span head's word-level scores.

A span head (`tfllm.layers.global_pointer`) gives every sentence a score
`s[i, j, t]` for each start word `i`, end word `j` (inclusive) and entity
type `t`. Every valid cell (`i <= j < num_words`) with `s > 0` is an entity
(Su et al. 2022, "Global Pointer"), so spans may nest or overlap:
`decode_spans` returns them all.

IOB2 tags (what `predict`, evaluation and the exports return) hold one
label per word, so overlapping spans cannot all be written; `spans_to_tags`
keeps the highest-scoring spans that do not overlap a span already kept
(greedy, best first; ties: the lower (start, end, type) index first) and
tags their words `B-X I-X ...`, the rest `O`. Entity-level F1 is then
computed from these tags exactly as for the softmax and CRF heads
(seqeval strict IOB2). `numpy_spans_to_tags` is the same greedy choice in
NumPy, for the LiteRT bundle's runner.
"""

import numpy as np
import tensorflow as tf

from tfllm.export.entities import label_tables
from tfllm.training.global_pointer_loss import NEG_SCORE


def tag_tables(id2label):
    """Label ids of `O`, and of `B-X` / `I-X` per type (sorted type names).

    Args:
        id2label: list of str, IOB2 labels.

    Returns:
        `(outside, begin, inside)`: int, and two int lists with one id per
        type (`label_tables` order).

    Raises:
        ValueError: no `O` label, or a type without both `B-X` and `I-X`.
    """
    _, _, names = label_tables(id2label)
    if "O" not in id2label:
        raise ValueError(f"a span head needs an 'O' label: {id2label}")
    begin, inside = [], []
    for name in names:
        for prefix, ids in (("B", begin), ("I", inside)):
            label = f"{prefix}-{name}"
            if label not in id2label:
                raise ValueError(
                    f"a span head writes IOB2 tags and needs {label!r} in "
                    f"the labels: {id2label}")
            ids.append(id2label.index(label))
    return id2label.index("O"), begin, inside


def valid_scores(word_scores, lengths):
    """`word_scores` with invalid cells (end < start, past the sentence) at
    `-NEG_SCORE`, as float32 `[batch_size, words, words, num_types]`."""
    scores = tf.cast(word_scores, tf.float32)
    words = tf.shape(scores)[1]
    real = tf.sequence_mask(lengths, words)
    upper = tf.linalg.band_part(tf.ones([words, words], tf.bool), 0, -1)
    valid = real[:, :, None] & real[:, None, :] & upper[None]
    return tf.where(valid[..., None], scores, -NEG_SCORE)


def decode_spans(word_scores, lengths):
    """Every valid cell with a positive score: the (nested) entities.

    Args:
        word_scores: float `[batch_size, words, words, num_types]` span
            scores (start word, end word inclusive, type).
        lengths: int `[batch_size]` words per sentence.

    Returns:
        dict of `tf.RaggedTensor` `[batch_size, (spans)]`, in (start, end,
        type) order: int32 `start`, `end` (inclusive), `type` (index into
        the sorted type names) and float32 `score`.
    """
    scores = valid_scores(word_scores, lengths)
    hits = tf.cast(tf.where(scores > 0), tf.int32)  # [N, 4] (b, i, j, t)
    batch = tf.shape(scores, out_type=tf.int64)[0]
    rows = tf.cast(hits[:, 0], tf.int64)

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(values, rows, batch)

    return {"start": ragged(hits[:, 1]), "end": ragged(hits[:, 2]),
            "type": ragged(hits[:, 3]),
            "score": ragged(tf.gather_nd(scores, hits))}


def spans_to_tags(word_scores, lengths, id2label):
    """IOB2 tag ids from the best non-overlapping positive spans, in graph.

    Also a confidence per word: `sigmoid(s)` of the kept span for its
    words; for an `O` word, `1 - sigmoid` of the highest valid score of a
    span that starts or ends at it.

    Args:
        word_scores: float `[batch_size, words, words, num_types]`.
        lengths: int `[batch_size]`.
        id2label: list of str, IOB2 labels (see `tag_tables`).

    Returns:
        `(tags, confidence)`: int32 and float32 `[batch_size, words]`
        (padding: `O` and 0).
    """
    outside, begin, inside = tag_tables(id2label)
    scores = valid_scores(word_scores, lengths)
    shape = tf.shape(scores)
    batch, words, types = shape[0], shape[1], shape[3]
    flat = tf.reshape(scores, [batch, -1])
    best, order = tf.math.top_k(flat, k=tf.shape(flat)[1], sorted=True)
    steps = tf.reduce_max(tf.reduce_sum(tf.cast(best > 0, tf.int32), 1))
    steps = tf.where(batch > 0, steps, 0)
    position = tf.range(words)[None, :]
    real = tf.sequence_mask(lengths, words)
    edge = tf.maximum(tf.reduce_max(scores, axis=[2, 3]),
                      tf.reduce_max(scores, axis=[1, 3]))
    confidence = tf.where(real, 1.0 - tf.sigmoid(edge), 0.0)
    tags = tf.fill([batch, words], outside)
    begin, inside = tf.constant(begin, tf.int32), tf.constant(inside, tf.int32)

    def step(t, tags, taken, confidence):
        index, score = order[:, t], best[:, t]
        start = index // (words * types)
        end = index // types % words
        kind = index % types
        cover = (position >= start[:, None]) & (position <= end[:, None])
        free = ~tf.reduce_any(cover & taken, axis=1)
        keep = (score > 0) & free
        write = cover & keep[:, None]
        label = tf.where(position == start[:, None],
                         tf.gather(begin, kind)[:, None],
                         tf.gather(inside, kind)[:, None])
        tags = tf.where(write, label, tags)
        confidence = tf.where(write, tf.sigmoid(score)[:, None], confidence)
        return t + 1, tags, taken | write, confidence

    _, tags, _, confidence = tf.while_loop(
        lambda t, *_: t < steps, step,
        (tf.constant(0), tags, tf.zeros([batch, words], tf.bool),
         confidence))
    return tags, confidence


def span_columns(encoding, rows):
    """Span scores of each word's row at the sentence's word columns.

    Args:
        encoding: `TokenClassificationPreprocessor` output.
        rows: float32 `[num_words, length, num_types]`: the span scores
            starting at each word (flat over the batch).

    Returns:
        float32 `[num_words, max_words, num_types]`; cells whose end word
        is before the start, past the sentence or owned by another window
        are `-NEG_SCORE`.
    """
    windows = encoding["word_window"]  # [B, (words)]
    sentence = windows.value_rowids()  # [F]
    columns = tf.gather(encoding["word_position"].to_tensor(0), sentence)
    column_window = tf.gather(windows.to_tensor(-1), sentence)  # [F, W]
    scores = tf.gather(rows, columns, axis=1, batch_dims=1)  # [F, W, C]
    first = tf.gather(tf.cast(windows.row_starts(), tf.int64), sentence)
    start = tf.range(tf.size(sentence, out_type=tf.int64)) - first
    end = tf.range(tf.shape(columns, out_type=tf.int64)[1])
    valid = (tf.equal(column_window, windows.flat_values[:, None])
             & (end[None, :] >= start[:, None]))
    return tf.where(valid[..., None], scores, -NEG_SCORE)


def numpy_spans_to_tags(scores, id2label):
    """`spans_to_tags` for one sentence in NumPy (the LiteRT runner).

    Args:
        scores: float `[num_words, num_words, num_types]`, cells already
            valid-masked or not: end < start cells are ignored.
        id2label: list of str.

    Returns:
        int list of `num_words` label ids.
    """
    outside, begin, inside = tag_tables(id2label)
    scores = np.asarray(scores, np.float32)
    n = len(scores)
    tags = [outside] * n
    if n == 0:
        return tags
    upper = np.triu(np.ones((n, n), bool))
    scores = np.where(upper[..., None], scores, -NEG_SCORE)
    flat = scores.reshape(-1)
    taken = np.zeros(n, bool)
    for index in np.argsort(-flat, kind="stable"):
        if flat[index] <= 0:
            break
        start, end, kind = np.unravel_index(index, scores.shape)
        if taken[start:end + 1].any():
            continue
        taken[start:end + 1] = True
        tags[start] = begin[kind]
        for k in range(start + 1, end + 1):
            tags[k] = inside[kind]
    return tags
