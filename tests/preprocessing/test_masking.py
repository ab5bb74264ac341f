"""Dynamic masking (tfllm.preprocessing.masking), outside case A-1."""

import numpy as np
import tensorflow as tf

from tfllm.data.corpus import encode_masked_lm
from tfllm.data.pipeline import make_dataset
from tfllm.preprocessing.masking import DynamicMasking
from tfllm.preprocessing.masking import mask_tokens

SEED = tf.constant([7, 0], tf.int64)


def _masked_positions(pad_id, padding_mask):
    cls, sep, a, b, c = 2, 3, 5, 6, 7
    ids = tf.constant([[cls, a, b, c, sep, pad_id, pad_id]])
    out = mask_tokens(ids, tf.constant([padding_mask]), SEED,
                      vocabulary_size=12, mask_token_id=4,
                      special_token_ids=[pad_id, 1, cls, sep, 4],
                      mask_rate=1.0)
    weights = out["mask_weights"].numpy()[0]
    return set(out["mask_positions"].numpy()[0][weights > 0].tolist())


def test_padding_and_special_tokens_are_never_selected():
    """Outside case A-1: mask rate 1.0 selects exactly {1, 2, 3}."""
    with_mask = [1, 1, 1, 1, 1, 0, 0]
    assert _masked_positions(0, with_mask) == {1, 2, 3}
    assert _masked_positions(9, with_mask) == {1, 2, 3}  # pad id not 0
    # Even without a padding mask, the pad id itself is never a candidate.
    assert _masked_positions(9, [1] * 7) == {1, 2, 3}
    assert _masked_positions(11, [1] * 7) == {1, 2, 3}


def test_masking_proportions_and_labels():
    rng = np.random.default_rng(0)
    batch, length, vocab = 64, 128, 500
    ids = rng.integers(10, vocab, size=(batch, length))
    lengths = rng.integers(20, length, size=batch)
    ids[:, 0], ids[np.arange(batch), lengths - 1] = 2, 3
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    ids = np.where(mask == 1, ids, 0)
    out = mask_tokens(tf.constant(ids), tf.constant(mask), SEED,
                      vocabulary_size=vocab, mask_token_id=4,
                      special_token_ids=[0, 1, 2, 3, 4])
    positions = out["mask_positions"].numpy()
    weights = out["mask_weights"].numpy()
    masked = out["token_ids"].numpy()
    assert positions.shape == (batch, int(np.ceil(0.15 * length)))
    candidates = mask.sum(1) - 2  # [CLS] and [SEP] excluded
    assert (weights.sum(1) == np.floor(0.15 * candidates + 0.5)).all()
    mask_count = random_count = same_count = 0
    for row in range(batch):
        chosen = positions[row][weights[row] > 0]
        assert len(set(chosen)) == len(chosen)
        assert (mask[row, chosen] == 1).all() and (chosen > 0).all()
        assert (chosen < lengths[row] - 1).all()  # never [SEP] or padding
        labels = out["mask_ids"].numpy()[row][weights[row] > 0]
        assert (labels == ids[row, chosen]).all()
        new = masked[row, chosen]
        mask_count += (new == 4).sum()
        same_count += (new == ids[row, chosen]).sum()
        random_count += ((new != 4) & (new != ids[row, chosen])).sum()
        untouched = np.setdiff1d(np.arange(length), chosen)
        assert (masked[row, untouched] == ids[row, untouched]).all()
    total = weights.sum()
    assert abs(mask_count / total - 0.8) < 0.03
    assert abs(random_count / total - 0.1) < 0.025
    assert abs(same_count / total - 0.1) < 0.025
    assert 0.145 < total / candidates.sum() < 0.155


def test_mask_is_redrawn_every_epoch_and_seeded():
    blocks = [np.array([2] + list(range(10, 40)) + [3])] * 4
    encoded = encode_masked_lm(blocks)
    masking = DynamicMasking(vocabulary_size=50, mask_token_id=4,
                             special_token_ids=[0, 1, 2, 3, 4],
                             sequence_length=32, seed=1)

    def first_batches(n):
        dataset = make_dataset(encoded, 4, 32, repeat=True,
                               batch_transform=masking)
        return [x["mask_positions"].numpy()
                for x, _, _ in dataset.take(n)]

    epoch1, epoch2 = first_batches(2)  # one batch per epoch
    assert not np.array_equal(epoch1, epoch2)
    again = first_batches(2)
    assert np.array_equal(epoch1, again[0])
    assert np.array_equal(epoch2, again[1])
    x, y, w = next(iter(make_dataset(encoded, 4, 32, batch_transform=masking)))
    assert sorted(x) == ["mask_positions", "padding_mask", "segment_ids",
                         "token_ids"]
    assert y.shape == w.shape == (4, 5)  # ceil(0.15 * 32) predictions
    assert w.numpy().sum() == 4 * 5  # round(0.15 * 30) = 4.5 -> 5 each


def test_resumed_stream_masks_the_same_tokens():
    """A run resumed at step k skips k batches and sees the same masks."""
    blocks = [np.array([2] + list(range(10, 10 + n)) + [3])
              for n in (30, 20, 25, 14, 30, 9)]
    encoded = encode_masked_lm(blocks)
    masking = DynamicMasking(vocabulary_size=50, mask_token_id=4,
                             special_token_ids=[0, 1, 2, 3, 4],
                             sequence_length=32, seed=5)

    def stream():
        return make_dataset(encoded, 2, 32, shuffle=True, seed=3,
                            repeat=True, batch_transform=masking)

    full = [x["token_ids"].numpy() for x, _, _ in stream().take(7)]
    resumed = [x["token_ids"].numpy() for x, _, _ in stream().skip(4).take(3)]
    for a, b in zip(full[4:], resumed):
        np.testing.assert_array_equal(a, b)
