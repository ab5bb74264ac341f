import keras
import numpy as np
import pytest
import tensorflow as tf

from tiny_faq import FAQ_ROWS
from tiny_faq import tiny_encoder
from tfllm.data.pipeline import make_dataset
from tfllm.retrieval.contrastive import SentenceEncoder
from tfllm.retrieval.contrastive import encode_pairs
from tfllm.retrieval.contrastive import make_pairs
from tfllm.retrieval.contrastive import ranking_logits


def _unit(rows, dim, seed):
    x = np.random.default_rng(seed).normal(size=(rows, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _cross_entropy(logits, targets):
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(targets)), targets].mean()


def test_mnrl_equals_cross_entropy_over_the_scaled_similarities():
    a, p = _unit(4, 6, 0), _unit(4, 6, 1)
    logits = ranking_logits(a, p, scale=20.0).numpy()
    np.testing.assert_allclose(logits, 20 * a @ p.T, rtol=1e-5)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    want = _cross_entropy(20 * a @ p.T, np.arange(4))
    assert float(loss(np.arange(4), logits)) == pytest.approx(want, 1e-5)


def test_same_group_negatives_are_masked():
    a, p = _unit(3, 5, 2), _unit(3, 5, 3)
    logits = ranking_logits(a, p, tf.constant([7, 7, 1]), 20.0).numpy()
    s = 20 * a @ p.T
    assert logits[0, 1] < -1e8 and logits[1, 0] < -1e8
    np.testing.assert_allclose(np.diag(logits), np.diag(s), rtol=1e-5)
    np.testing.assert_allclose(logits[2], s[2], rtol=1e-5)
    # Row 0's softmax is over its positive and pair 2's positive only.
    row = np.array([s[0, 0], s[0, 2]])
    want = -(row[0] - np.log(np.exp(row).sum()))
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None)(np.arange(3), logits).numpy()
    assert loss[0] == pytest.approx(want, 1e-4)


def test_make_pairs_pairs_within_groups():
    texts = ["a", "b", "c", "d", "e"]
    anchors, positives, groups = make_pairs(texts, ["x", "x", "y", "y", "z"])
    assert anchors == ["a", "b", "c", "d"]  # "e" is alone in its group
    assert positives == ["b", "a", "d", "c"]
    assert groups.tolist() == [0, 0, 1, 1]


def _batch(encoder):
    texts = [q for q, _ in FAQ_ROWS]
    anchors, positives, groups = make_pairs(
        texts, [i for _, i in FAQ_ROWS])
    encoded = encode_pairs(encoder.preprocessor, anchors, positives, groups)
    dataset = make_dataset(encoded, 8, 8, accumulation_steps=1)
    return next(iter(dataset))


def _hand_loss(encoder, batch, symmetric=False):
    x, groups, _ = batch
    keys = ("token_ids", "padding_mask", "segment_ids")
    a = encoder({k: x[k] for k in keys}).numpy()
    p = encoder({k: x["positive_" + k] for k in keys}).numpy()
    logits = 20 * a @ p.T
    same = groups.numpy()[:, None] == groups.numpy()[None, :]
    logits[same & ~np.eye(len(a), dtype=bool)] = -1e9
    loss = _cross_entropy(logits, np.arange(len(a)))
    if symmetric:
        loss = (loss + _cross_entropy(logits.T, np.arange(len(a)))) / 2
    return loss


@pytest.mark.parametrize("symmetric", [False, True])
def test_train_step_loss_is_the_hand_mnrl_and_decreases(symmetric):
    encoder = tiny_encoder(symmetric=symmetric)
    batch = _batch(encoder)
    before = _hand_loss(encoder, batch, symmetric)
    encoder.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="sum"))
    first = encoder.train_on_batch(*batch, return_dict=True)["loss"]
    assert first == pytest.approx(before, rel=1e-4)
    for _ in range(10):
        encoder.train_on_batch(*batch)
    assert _hand_loss(encoder, batch, symmetric) < 0.5 * before


def test_embeddings_are_unit_length_and_config_round_trips(tmp_path):
    encoder = tiny_encoder(scale=10.0, symmetric=True)
    text = tf.constant(["great movie", "awful plot ."])
    vectors = encoder.embed(text).numpy()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, 1e-5)
    encoder.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, SentenceEncoder)
    assert (loaded.scale, loaded.symmetric) == (10.0, True)
    np.testing.assert_allclose(loaded.embed(text).numpy(), vectors,
                               atol=1e-6)


def test_gradient_accumulation_is_refused():
    encoder = tiny_encoder()
    encoder.compile(optimizer="adam", loss=keras.losses.
                    SparseCategoricalCrossentropy(from_logits=True,
                                                  reduction="sum"))
    encoder.micro_batches = 2
    with pytest.raises(ValueError, match="grad-accum"):
        encoder.train_on_batch(*_batch(encoder))
