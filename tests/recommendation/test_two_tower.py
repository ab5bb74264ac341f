"""The two-tower retrieval model: losses by hand, cold-start items ranked
from text, saving, and its training examples."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.recommendation.dataset import RecDataset
from tfllm.recommendation.examples import RetrievalExamples
from tfllm.recommendation.examples import history_batch
from tfllm.recommendation.examples import left_pad
from tfllm.recommendation.losses import in_batch_softmax_loss
from tfllm.recommendation.split import LeaveLastOutSplit
from tfllm.recommendation.split import cold_start_split
from tfllm.recommendation.two_tower import TwoTowerRecommender

NUM_ITEMS = 12
COUNTS = np.array([0, 5, 3, 0, 2, 1, 4, 0, 6, 1, 2, 3, 1])  # 3, 7 unseen


def numpy_cross_entropy(logits, labels):
    logits = logits - logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels]


def tiny_model(**kwargs):
    keras.utils.set_random_seed(0)
    settings = dict(num_items=NUM_ITEMS, embedding_dim=8, max_history=4,
                    num_layers=1, dropout=0.0)
    settings.update(kwargs)
    model = TwoTowerRecommender(**settings)
    model.build()
    return model


def test_catalogue_loss_is_softmax_over_trained_items():
    model = tiny_model(user_tower="attention", temperature=0.5)
    model.set_item_statistics(COUNTS)
    inputs = {"history": np.array([[0, 0, 1, 2], [4, 5, 6, 8]], np.int32),
              "users": np.zeros(2, np.int32)}
    targets = np.array([[0, 0, 2, 9], [5, 6, 8, 1]], np.int32)
    loss = float(model.retrieval_loss(inputs, targets, training=False))

    items = model.item_vectors().numpy()
    users = model.user_vectors(inputs).numpy()
    assert items.shape == (NUM_ITEMS + 1, 8)
    assert users.shape == (2, 4, 8)
    valid = targets > 0
    logits = users[valid] @ items.T / 0.5
    # Only items seen in training compete; never the padding column.
    allowed = np.flatnonzero(COUNTS > 0)
    assert 0 not in allowed and 3 not in allowed and 7 not in allowed
    column = {item: c for c, item in enumerate(allowed)}
    expected = numpy_cross_entropy(
        logits[:, allowed], [column[t] for t in targets[valid]]).mean()
    assert loss == pytest.approx(expected, rel=1e-5)
    # The model's scores are the last position's dot products.
    scores = model(inputs).numpy()
    np.testing.assert_allclose(scores, users[:, -1] @ items.T, rtol=1e-5,
                               atol=1e-6)


def test_in_batch_loss_uses_the_gathered_log_q():
    model = tiny_model(user_tower="id", num_users=5, negatives="in_batch",
                       temperature=0.7)
    model.set_item_statistics(COUNTS)
    inputs = {"history": np.zeros((4, 4), np.int32),
              "users": np.array([0, 3, 1, 4], np.int32)}
    targets = np.array([[8], [2], [8], [11]], np.int32)  # 8 twice
    loss = float(model.retrieval_loss(inputs, targets, training=False))

    items = model.item_vectors().numpy()
    users = model.user_vectors(inputs).numpy()[:, 0]
    positives = targets[:, 0]
    scores = users @ items[positives].T
    log_q = np.log(COUNTS[positives] / COUNTS.sum())
    np.testing.assert_allclose(model.item_log_q.numpy()[positives], log_q,
                               rtol=1e-5)
    expected = in_batch_softmax_loss(scores, positives, log_q, 0.7).numpy()
    assert loss == pytest.approx(expected.mean(), rel=1e-5)
    # By hand: scaled, corrected, the accidental hit (rows 0 and 2) masked.
    logits = scores / 0.7 - log_q[None, :]
    logits[0, 2] = logits[2, 0] = -1e9
    assert loss == pytest.approx(
        numpy_cross_entropy(logits, np.arange(4)).mean(), rel=1e-5)

    plain = tiny_model(user_tower="id", num_users=5, negatives="in_batch",
                       temperature=0.7, logq_correction=False)
    plain.set_item_statistics(COUNTS)
    expected = in_batch_softmax_loss(scores, positives, None, 0.7).numpy()
    assert float(plain.retrieval_loss(inputs, targets, training=False)) == \
        pytest.approx(expected.mean(), rel=1e-5)


def test_cold_items_lose_their_id_embedding():
    model = tiny_model(user_tower="mean", text_feature_dim=5)
    features = np.random.default_rng(0).normal(
        size=(NUM_ITEMS + 1, 5)).astype(np.float32)
    model.set_item_text_features(features)
    model.set_item_statistics(COUNTS, cold_items=[3, 7])
    items = model.item_vectors().numpy()
    text = model.text_projection(features).numpy()
    ids = model.item_id_embedding.embeddings.numpy()
    np.testing.assert_array_equal(items[[3, 7]], text[[3, 7]])
    np.testing.assert_array_equal(
        model.text_item_vectors(features[[3, 7]]).numpy(), text[[3, 7]])
    np.testing.assert_allclose(items[[1, 2, 8]], text[[1, 2, 8]]
                               + ids[[1, 2, 8]], rtol=1e-6)
    np.testing.assert_array_equal(items[0], text[0])  # padding: no id
    mask = model.item_id_mask.numpy()
    assert mask[[0, 3, 7]].tolist() == [0, 0, 0] and mask[1:3].all()


GENRES = 3


def genre_dataset(num_items=24, num_users=12, per_user=8, seed=0):
    """Each user picks items of one genre (user u: genre u % 3); item i
    has genre (i - 1) % 3."""
    rng = np.random.default_rng(seed)
    genre = (np.arange(1, num_items + 1) - 1) % GENRES
    rows = []
    for u in range(num_users):
        own = np.flatnonzero(genre == u % GENRES) + 1
        picks = rng.choice(own, per_user, replace=False)
        rows += [(u, int(i), t) for t, i in enumerate(picks)]
    users, items, times = zip(*rows)
    return RecDataset(
        item_ids=[str(i) for i in range(1, num_items + 1)],
        item_texts=[f"genre {g}" for g in genre], item_fields={},
        user_ids=[str(u) for u in range(num_users)], user_features={},
        users=users, items=items, timestamps=times)


def genre_wins(model, split, item_genre):
    """Per user: the share of (own-genre cold item, other-genre cold item)
    pairs that the user's scores order correctly."""
    cold = split.cold_items
    users = np.arange(len(split.train_sequences))
    histories = history_batch([split.history(u, "test") for u in users],
                              model.max_history)
    scores = model({"history": histories, "users": users}).numpy()
    wins = []
    for u in users:
        own = cold[item_genre[cold] == u % GENRES]
        other = cold[item_genre[cold] != u % GENRES]
        wins.append((scores[u, own][:, None] > scores[u, other][None]).mean())
    return np.mean(wins)


def test_cold_items_are_ranked_from_text():
    from tfllm.recommendation.metrics import evaluate_scores

    data = genre_dataset()
    split = cold_start_split(data, fraction=0.25, seed=1)
    cold = split.cold_items
    item_genre = np.concatenate([[-1], (np.arange(1, 25) - 1) % GENRES])
    assert len(set(item_genre[cold])) == GENRES  # every genre has cold items
    # Text features: the genre one-hot (strong) plus noise.
    rng = np.random.default_rng(0)
    features = np.concatenate(
        [np.eye(GENRES)[item_genre[1:]] * 3.0,
         rng.normal(scale=0.3, size=(24, 3))], axis=1).astype(np.float32)
    features = np.concatenate([np.zeros((1, 6), np.float32), features])

    # User-id tower: the users' preferences are only learnt from the warm
    # interactions (an untrained model ranks the cold items at random).
    model = tiny_model(num_items=24, num_users=data.num_users,
                       user_tower="id", text_feature_dim=6,
                       item_id_dropout=0.5)
    model.set_item_text_features(features)
    model.set_item_statistics(split.item_counts(), cold)
    assert genre_wins(model, split, item_genre) < 0.8
    examples = RetrievalExamples(split, model.max_history, pairs=True)
    model.compile(optimizer=keras.optimizers.Adam(0.03))
    model.fit(examples.make_dataset(16, shuffle=True, seed=0), epochs=15,
              verbose=0)
    # The cold rows still hold no id embedding after training.
    np.testing.assert_array_equal(
        model.item_vectors().numpy()[cold],
        model.text_projection(features[cold]).numpy())
    # A cold item of the user's genre outranks the other genres' ones.
    assert genre_wins(model, split, item_genre) > 0.9
    result = evaluate_scores(
        lambda u, h: model({"history": history_batch(h, 4),
                            "users": u}).numpy(),
        split, "cold", ks=(2,))
    assert result["recall@2"] > 2 * result["random_recall@2"]


def test_config_round_trip_and_keras_save(tmp_path):
    model = tiny_model(num_users=4, user_tower="attention",
                       text_feature_dim=3, text_hidden_dim=5,
                       user_feature_vocab_sizes=[3, 4], negatives="in_batch",
                       temperature=0.2, item_id_dropout=0.1,
                       item_texts=[f"t{i}" for i in range(NUM_ITEMS)])
    rng = np.random.default_rng(1)
    model.set_item_text_features(
        rng.normal(size=(NUM_ITEMS + 1, 3)).astype(np.float32))
    model.set_item_statistics(COUNTS, cold_items=[5])
    model.set_user_features(rng.integers(0, 3, size=(5, 2)))

    clone = TwoTowerRecommender.from_config(model.get_config())
    assert clone.get_config() == model.get_config()

    inputs = {"history": np.array([[0, 1, 2, 3], [6, 5, 8, 9]], np.int32),
              "users": np.array([1, 4], np.int32)}
    scores = model(inputs).numpy()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)
    assert isinstance(loaded, TwoTowerRecommender)
    np.testing.assert_array_equal(loaded(inputs).numpy(), scores)
    for name in ("item_log_q", "item_trained", "item_id_mask",
                 "item_text_features", "user_feature_table"):
        np.testing.assert_array_equal(getattr(loaded, name).numpy(),
                                      getattr(model, name).numpy())


def test_invalid_settings():
    with pytest.raises(ValueError, match="user_tower"):
        TwoTowerRecommender(5, user_tower="gru")
    with pytest.raises(ValueError, match="negatives"):
        TwoTowerRecommender(5, negatives="sampled")
    with pytest.raises(ValueError, match="num_users"):
        TwoTowerRecommender(5, user_tower="id")
    with pytest.raises(ValueError, match="item tower"):
        TwoTowerRecommender(5, use_item_ids=False)


def one_user_split(sequences):
    return LeaveLastOutSplit(
        dataset=None, train_sequences=[np.array(s, np.int32)
                                       for s in sequences],
        valid_items=np.zeros(len(sequences), np.int32),
        test_items=np.zeros(len(sequences), np.int32))


def test_retrieval_examples_windows():
    split = one_user_split([[1, 2, 3, 4, 5, 6, 7], [9], [5, 6, 7, 8, 9]])
    examples = RetrievalExamples(split, max_history=3)
    assert examples.inputs["history"].tolist() == [
        [4, 5, 6], [1, 2, 3],          # user 0, from the end
        [6, 7, 8], [0, 0, 5]]          # user 2; user 1 has no target
    assert examples.targets.tolist() == [
        [5, 6, 7], [2, 3, 4],
        [7, 8, 9], [0, 0, 6]]
    assert examples.inputs["users"].tolist() == [0, 0, 2, 2]
    # Every item but each sequence's first is a target exactly once.
    assert examples.num_tokens == 6 + 4
    assert examples.unit == "interactions"
    assert examples.steps_per_epoch(3) == 2
    batches = list(examples.make_dataset(3))
    assert [b[1].shape[0] for b in batches] == [3, 1]
    np.testing.assert_array_equal(batches[0][0]["history"],
                                  examples.inputs["history"][:3])


def test_retrieval_examples_pairs():
    split = one_user_split([[1, 2, 3], [], [4]])
    examples = RetrievalExamples(split, max_history=3, pairs=True)
    assert examples.inputs["users"].tolist() == [0, 0, 0, 2]
    assert examples.targets.tolist() == [[1], [2], [3], [4]]
    assert examples.num_tokens == 4
    assert examples.inputs["history"].shape == (4, 3)


def test_left_pad():
    assert left_pad([1, 2, 3, 4], 3).tolist() == [2, 3, 4]
    assert left_pad([5], 3).tolist() == [0, 0, 5]
    assert left_pad([], 2).tolist() == [0, 0]
    assert history_batch([], 3).shape == (0, 3)


def test_training_step_lowers_the_loss():
    model = tiny_model(user_tower="id", num_users=3, negatives="in_batch")
    model.set_item_statistics(COUNTS)
    inputs = {"history": np.zeros((3, 4), np.int32),
              "users": np.array([0, 1, 2], np.int32)}
    targets = np.array([[1], [2], [4]], np.int32)
    before = float(model.retrieval_loss(inputs, targets, training=False))
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.fit(tf.data.Dataset.from_tensors((inputs, targets)).repeat(20),
              verbose=0)
    after = float(model.retrieval_loss(inputs, targets, training=False))
    assert after < 0.5 * before


@pytest.mark.parametrize("tower", ["attention", "mean", "id"])
def test_mixed_bfloat16_losses_and_scores_are_float32(tower):
    """Under `mixed_bfloat16` the towers compute in bfloat16 while the
    cached text features and id embeddings stay float32 variables; the
    item table, loss and scores must still combine (a dtype mismatch
    raised before) and come out float32."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = TwoTowerRecommender(
            20, 5, 8, tower, 4, num_layers=1,
            text_feature_dim=6 if tower != "id" else 0,
            user_feature_vocab_sizes=[3])
        model.build()
        model.set_item_statistics(np.arange(21))
        if tower != "id":
            model.set_item_text_features(
                np.random.default_rng(0).random((21, 6)))
        history = np.array([[0, 3, 4, 5], [1, 2, 3, 4]], np.int32)
        inputs = {"history": history, "users": np.array([0, 1], np.int32)}
        targets = history if tower != "id" else history[:, -1:]
        for negatives in ("catalogue", "in_batch"):
            model.negatives = negatives
            loss = model.retrieval_loss(inputs, targets, training=False)
            assert loss.dtype == tf.float32 and np.isfinite(float(loss))
        assert model(inputs).dtype == tf.float32
    finally:
        keras.config.set_dtype_policy(previous)


def test_item_bias_is_a_column_of_the_dot_product():
    """With `item_bias`, each score is the user·item product plus the
    item's bias (text bias + id bias), kept as one more column so that
    scores stay dot products; a cold item's bias comes from text alone."""
    rng = np.random.default_rng(0)
    model = TwoTowerRecommender(12, 3, 8, "mean", 4, text_feature_dim=5,
                                item_bias=True, dropout=0.0)
    model.build()
    model.set_item_statistics(np.ones(13, int), cold_items=[4])
    features = rng.random((13, 5)).astype("float32")
    model.set_item_text_features(features)
    model.item_id_bias.embeddings.assign(rng.random((13, 1)) - 0.5)
    items = model.item_vectors().numpy()
    assert items.shape == (13, 9)
    text_bias = model.text_bias(features).numpy()[:, 0]
    id_bias = model.item_id_bias.embeddings.numpy()[:, 0]
    expected_bias = text_bias + id_bias * model.item_id_mask.numpy()
    np.testing.assert_allclose(items[:, 8], expected_bias, rtol=1e-5,
                               atol=1e-6)
    # cold item 4: text only, the same as a new item with its features
    np.testing.assert_allclose(
        model.text_item_vectors(features[4:5]).numpy()[0], items[4],
        rtol=1e-5, atol=1e-6)
    inputs = {"history": np.array([[0, 1, 2, 3]], np.int32),
              "users": np.array([0], np.int32)}
    users = model.user_vectors(inputs).numpy()[:, -1, :]
    assert users[0, 8] == 1.0
    scores = model(inputs).numpy()[0]
    np.testing.assert_allclose(
        scores, items[:, :8] @ users[0, :8] + expected_bias, rtol=1e-5,
        atol=1e-5)
