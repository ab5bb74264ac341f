"""Span decoding of a GlobalPointer head: nested spans, tags (BR-21)."""

import numpy as np
import pytest
import tensorflow as tf

from tfllm.layers.span_decoding import decode_spans
from tfllm.layers.span_decoding import numpy_spans_to_tags
from tfllm.layers.span_decoding import spans_to_tags
from tfllm.layers.span_decoding import tag_tables

S = np.array([[2.0, -1.0, 0.5, 3.0],
              [1.5, -2.0, 1.0, 2.0],
              [0.8, 0.3, -0.5, 1.0],
              [4.0, 1.0, 2.0, 5.0]], np.float32)
LABELS = ["O", "B-X", "I-X"]


def _spans(scores, lengths):
    out = decode_spans(tf.constant(scores), tf.constant(lengths))
    return [set(zip(s, e, t)) for s, e, t in zip(
        out["start"].to_list(), out["end"].to_list(), out["type"].to_list())]


def test_decoded_spans_and_span_f1():
    """BR-21: every valid cell > 0 -> {(0,0), (0,2), (1,2)} (no start > end,
    nothing on the pad); against gold {(0,0), (1,2)}: P 0.666667, R 1.0,
    F1 0.8. Exclusive word spans: [0,1), [0,3), [1,3)."""
    (spans,) = _spans(S[None, ..., None], [3])
    cells = {(i, j) for i, j, _ in spans}
    assert cells == {(0, 0), (0, 2), (1, 2)}
    assert sorted((i, j + 1) for i, j in cells) == [(0, 1), (0, 3), (1, 3)]
    gold = {(0, 0), (1, 2)}
    p = len(cells & gold) / len(cells)
    r = len(cells & gold) / len(gold)
    assert (p, r, 2 * p * r / (p + r)) == pytest.approx((0.666667, 1.0, 0.8),
                                                       abs=1e-6)


def test_nested_spans_of_two_types_and_tag_resolution():
    """Nested spans of two types are all decoded; IOB2 tags keep the best
    non-overlapping ones, in graph and NumPy alike."""
    labels = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    n = 5
    scores = np.full((1, n, n, 2), -3.0, np.float32)
    scores[0, 0, 3, 1] = 4.0  # ORG words 0-3 ("Bank of Lyon ...")
    scores[0, 2, 2, 0] = 2.5  # LOC word 2, nested in the ORG
    scores[0, 4, 4, 0] = 1.0  # LOC word 4
    scores[0, 3, 1, 0] = 9.0  # end < start: never a span
    (spans,) = _spans(scores, [5])
    assert spans == {(0, 3, 1), (2, 2, 0), (4, 4, 0)}
    tags, confidence = spans_to_tags(tf.constant(scores), tf.constant([5]),
                                     labels)
    assert [labels[t] for t in tags.numpy()[0]] == [
        "B-ORG", "I-ORG", "I-ORG", "I-ORG", "B-LOC"]
    np.testing.assert_allclose(
        confidence.numpy()[0],
        1 / (1 + np.exp(-np.array([4.0, 4.0, 4.0, 4.0, 1.0]))), atol=1e-6)
    assert numpy_spans_to_tags(scores[0], labels) == list(tags.numpy()[0])
    # The nested LOC outscores the ORG: LOC kept, ORG dropped.
    scores[0, 2, 2, 0] = 5.0
    tags, _ = spans_to_tags(tf.constant(scores), tf.constant([5]), labels)
    assert [labels[t] for t in tags.numpy()[0]] == [
        "O", "O", "B-LOC", "O", "B-LOC"]
    assert numpy_spans_to_tags(scores[0], labels) == list(tags.numpy()[0])


def test_br21_tags_and_batches_of_different_lengths():
    """BR-21 cells as tags: (0,0) 2.0 then (1,2) 1.0; (0,2) overlaps ->
    B-X B-X I-X. A second, empty sentence and padding give O only."""
    scores = np.stack([S, np.full((4, 4), 7.0, np.float32)])[..., None]
    tags, _ = spans_to_tags(tf.constant(scores), tf.constant([3, 0]), LABELS)
    assert tags.numpy().tolist() == [[1, 1, 2, 0], [0, 0, 0, 0]]
    assert numpy_spans_to_tags(S[:3, :3, None], LABELS) == [1, 1, 2]
    assert _spans(scores, [3, 0])[1] == set()


def test_tag_tables_need_iob2_with_both_prefixes():
    assert tag_tables(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]) == (
        0, [3, 1], [4, 2])
    with pytest.raises(ValueError, match="I-LOC"):
        tag_tables(["O", "B-LOC"])
