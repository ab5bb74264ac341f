"""GlobalPointer loss: masks, value, inclusive ends, float16 (case BR-21)."""

import numpy as np
import pytest
import tensorflow as tf

from tfllm.training.global_pointer_loss import GlobalPointerLoss
from tfllm.training.global_pointer_loss import iob2_span_labels
from tfllm.training.global_pointer_loss import \
    multilabel_categorical_crossentropy as mcce
from tfllm.training.global_pointer_loss import span_mask

# BR-21: 3 tokens + 1 pad, one type; S[start, end] after 1/sqrt(d).
S = np.array([[2.0, -1.0, 0.5, 3.0],
              [1.5, -2.0, 1.0, 2.0],
              [0.8, 0.3, -0.5, 1.0],
              [4.0, 1.0, 2.0, 5.0]], np.float32)
TOKEN_MASK = np.array([[1, 1, 1, 0]])
GOLD = {(0, 0), (1, 2)}  # inclusive ends


def _gold(cells, n=4):
    y = np.zeros((1, n, n, 1), np.float32)
    for i, j in cells:
        y[0, i, j, 0] = 1
    return y


def _loss(scores, gold, mask):
    return float(mcce(gold, scores[None, ..., None], mask).numpy()[0, 0])


def test_loss_value_with_triangle_and_padding_masks():
    """BR-21: valid cells i <= j < 3; loss 1.731617 (hand formula)."""
    mask = span_mask(TOKEN_MASK)
    np.testing.assert_array_equal(mask.numpy()[0], np.array(
        [[1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]], bool))
    e = np.exp
    hand = np.log(1 + e(-1) + e(.5) + e(-2) + e(-.5)) + np.log(
        1 + e(-2) + e(-1))
    got = _loss(S, _gold(GOLD), mask)
    assert got == pytest.approx(1.731617, abs=1e-6)
    assert got == pytest.approx(hand, abs=1e-6)


def test_wrong_masks_give_the_listed_wrong_values_and_ours_does_not():
    """BR-21: no triangle 2.877023, rows-only padding 3.932534, no padding
    5.613613, no masks 5.949368 -- each rejected; ours gives 1.731617."""
    real = TOKEN_MASK[0].astype(bool)
    upper = np.triu(np.ones((4, 4), bool))
    variants = {
        2.877023: real[:, None] & real[None, :],
        3.932534: upper & real[:, None],
        5.613613: upper,
        5.949368: np.ones((4, 4), bool),
    }
    ours = _loss(S, _gold(GOLD), span_mask(TOKEN_MASK))
    for wrong, mask in variants.items():
        assert _loss(S, _gold(GOLD), mask[None]) == pytest.approx(
            wrong, abs=1e-5)
        assert abs(ours - wrong) > 1.0


def test_gold_cells_from_iob2_tags_have_inclusive_ends():
    """BR-21: entity [1, 3) is cell (1, 2). Exclusive ends (0,1),(1,3) put
    gold on a wrong valid cell and on a masked one (1e12 in bert4keras;
    here the masked one drops out): a different, wrong loss."""
    ids = {"O": 0, "B-X": 1, "I-X": 2}
    tags = np.array([[1, 1, 2, 0]])
    gold = iob2_span_labels(tags, TOKEN_MASK.astype(bool), list(ids))
    cells = {(int(i), int(j)) for _, i, j, _ in np.argwhere(gold.numpy())}
    assert cells == GOLD
    mask = span_mask(TOKEN_MASK)
    assert _loss(S, gold.numpy(), mask) == pytest.approx(1.731617, abs=1e-6)
    e = np.exp
    wrong = np.log(1 + e(2) + e(.5) + e(-2) + e(1) + e(-.5)) + np.log(1 + e(1))
    assert _loss(S, _gold({(0, 1), (1, 3)}), mask) == pytest.approx(
        wrong, abs=1e-5)
    assert wrong > 3.9


def test_strict_iob2_spans_and_types():
    """An I-X after O or after another type starts no gold span."""
    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    # I-LOC O B-PER I-PER I-LOC B-LOC, then padding
    tags = np.array([[2, 0, 3, 4, 2, 1, 0, 0]])
    mask = np.array([[1, 1, 1, 1, 1, 1, 0, 0]], bool)
    gold = iob2_span_labels(tags, mask, labels).numpy()
    cells = sorted(tuple(x) for x in np.argwhere(gold)[:, 1:].tolist())
    assert cells == [(2, 3, 1), (5, 5, 0)]  # PER words 2-3, LOC word 5


def test_saturated_logits_stay_finite():
    """BR-21: +30 on gold cells, -30 elsewhere -> 5.6e-13, not 0 or NaN."""
    sat = np.where(_gold(GOLD)[0, ..., 0] > 0, 30.0, -30.0).astype(np.float32)
    got = _loss(sat, _gold(GOLD), span_mask(TOKEN_MASK))
    assert got == pytest.approx(6 * np.exp(-30.0), rel=1e-3)
    assert got == pytest.approx(5.6e-13, rel=0.01)


def test_float16_scores_mask_by_select_and_loss_in_float32():
    """BR-21: float16 scores give 1.731617 (1e12 * mask would be NaN)."""
    got = mcce(_gold(GOLD), tf.constant(S[None, ..., None], tf.float16),
               span_mask(TOKEN_MASK))
    assert got.dtype == tf.float32
    assert float(got[0, 0]) == pytest.approx(1.731617, abs=1e-3)
    # The published multiply-by-mask form in float16: 1e12 is inf, so
    # valid cells are NaN (inf * 0) and none is finite (the trap).
    m16 = span_mask(TOKEN_MASK).numpy()[0].astype(np.float16)
    with np.errstate(all="ignore"):
        big = np.float16(1e12)
        published = S.astype(np.float16) * m16 - (1 - m16) * big
    assert np.isinf(big) and not np.isfinite(published).any()
    assert np.isnan(published[m16 > 0]).all()


def test_keras_loss_reads_word_positions_and_spreads_over_words():
    """BR-21 through the Keras loss: words at sub-tokens 1, 2, 4 of a window
    (3 is a continuation piece, 0 [CLS], 5 [SEP]); loss 1.731617 over 3
    labelled tokens, 1.731617 in all with reduction="sum" and 0/1 weights
    summing the shares (1.731617 / 3 each)."""
    labels = ["O", "B-X", "I-X"]
    t = 6
    where = [1, 2, 4]
    scores = np.full((1, t, t, 1), 50.0, np.float32)  # non-words: ignored
    for a, i in enumerate(where):
        for b, j in enumerate(where):
            scores[0, i, j, 0] = S[a, b]
    y = np.zeros((1, t), np.int32)
    y[0, where] = [1, 1, 2]
    w = np.zeros((1, t), np.float32)
    w[0, where] = 1.0
    loss = GlobalPointerLoss(labels, reduction="sum")
    assert float(loss(y, scores, w)) == pytest.approx(1.731617, abs=1e-5)
    per_token = GlobalPointerLoss(labels, reduction=None)(y, scores, w)
    np.testing.assert_allclose(per_token.numpy()[0, where],
                               [1.731617 / 3] * 3, atol=1e-6)
    assert GlobalPointerLoss.from_config(loss.get_config()).id2label == \
        labels
