"""The recommender application on tiny hand-made datasets."""

import numpy as np
import pytest

from tfllm.apps.recommender import Recommender
from tfllm.data.errors import UserInputError
from tfllm.recommendation.dataset import RecDataset
from tfllm.recommendation.split import leave_last_out_split

# Popularity: user sequences (time order) and the training counts they give
# (the last two items of users with 3+ interactions are held out).
POP_SEQUENCES = {"alice": [1, 2, 3, 4],   # train 1, 2
                 "bob": [1, 2, 5, 6],     # train 1, 2
                 "carol": [1, 3, 5, 2],   # train 1, 3
                 "dave": [2, 6]}          # train 2, 6 (not evaluated)
POP_COUNTS = [0, 3, 3, 1, 0, 0, 1]


def make_dataset(sequences, num_items, with_features=False):
    rows = [(u, i, t) for u, seq in enumerate(sequences.values())
            for t, i in enumerate(seq)]
    users, items, times = zip(*rows)
    features = {}
    if with_features:
        features = {"gender": ["F" if u % 2 else "M" for u in
                               range(len(sequences))],
                    "age": [str(20 + 10 * (u % 3)) for u in
                            range(len(sequences))]}
    return RecDataset(
        item_ids=[f"m{i}" for i in range(1, num_items + 1)],
        item_texts=[f"the movie number {i}" for i in range(1, num_items + 1)],
        item_fields={"title": [f"Movie {chr(64 + i)}"
                               for i in range(1, num_items + 1)]},
        user_ids=list(sequences), user_features=features,
        users=users, items=items, timestamps=times, source="tiny")


def random_sequences(num_users=8, num_items=20, per_user=7, seed=0):
    rng = np.random.default_rng(seed)
    # Items of user u lean towards a block of the catalogue.
    sequences = {}
    for u in range(num_users):
        block = np.arange(1, num_items + 1)[(u % 2) * 10:(u % 2) * 10 + 10]
        sequences[f"user{u}"] = [int(i) for i in
                                 rng.choice(block, per_user, replace=False)]
    return sequences


def test_popularity_recommends_the_most_counted_unseen_items(tmp_path):
    data = make_dataset(POP_SEQUENCES, 6)
    split = leave_last_out_split(data)
    rec = Recommender.from_dataset(data, model="popularity")
    assert rec.model is None
    with pytest.raises(UserInputError, match="fit"):
        rec.recommend(user="dave")
    assert rec.fit(split) == []
    assert rec.item_counts.tolist() == POP_COUNTS

    # dave saw 2 and 6: then 1 (3), 3 (1), and 4 before 5 (both 0).
    top = rec.recommend(user="dave", k=3)
    assert top == [{"item_id": "m1", "title": "Movie A", "score": 3.0},
                   {"item_id": "m3", "title": "Movie C", "score": 1.0},
                   {"item_id": "m4", "title": "Movie D", "score": 0.0}]
    # alice saw 1-4 (her whole history, held-out items included).
    assert [r["item_id"] for r in rec.recommend(user="alice", k=5)] == [
        "m6", "m5"]
    # A given history replaces the stored one; ties go to the lower index.
    assert [r["item_id"] for r in rec.recommend(history=["m5"], k=3)] == [
        "m1", "m2", "m3"]
    assert [r["item_id"] for r in rec.recommend(
        user="dave", k=2, exclude_seen=False)] == ["m1", "m2"]

    # Test stage by hand: alice (target 4, seen 1 2 3) -> 6 (1), 4 (0),
    # 5 (0): rank 1; bob (target 6, seen 1 2 5) -> 3 (1), 6 (1): rank 1;
    # carol (target 2, seen 1 3 5) -> 2 (3): rank 0.
    result = rec.evaluate(split, "test", ks=(1, 2), tie_break="index")
    assert result["recall@1"] == pytest.approx(1 / 3)
    assert result["recall@2"] == pytest.approx(1.0)
    assert result["ndcg@2"] == pytest.approx(
        (2 / np.log2(3) + 1) / 3)
    assert result["coverage@1"] == pytest.approx(3 / 6)  # items 6, 3, 2

    rec.save(tmp_path / "pop")
    assert not (tmp_path / "pop" / "model.keras").exists()
    loaded = Recommender.load(tmp_path / "pop", data)
    assert loaded.config.model == "popularity"
    assert loaded.evaluate(split) == rec.evaluate(split)
    assert loaded.recommend(user="dave", k=3) == top


def test_recommend_errors():
    data = make_dataset(POP_SEQUENCES, 6)
    rec = Recommender.from_dataset(data, model="popularity")
    rec.fit(leave_last_out_split(data))
    with pytest.raises(UserInputError, match="'no-such-item'"):
        rec.recommend(history=["m1", "no-such-item"])
    with pytest.raises(UserInputError, match="'zed'"):
        rec.recommend(user="zed")
    with pytest.raises(UserInputError, match="user id or a history"):
        rec.recommend()
    with pytest.raises(UserInputError, match="model must be one of"):
        Recommender.from_dataset(data, model="matrix-factorization")
    with pytest.raises(TypeError, match="embeding_dim"):
        Recommender.from_dataset(data, model="popularity", embeding_dim=8)


def test_load_errors(tmp_path):
    data = make_dataset(POP_SEQUENCES, 6)
    with pytest.raises(UserInputError, match="recommender.json"):
        Recommender.load(tmp_path, data)
    rec = Recommender.from_dataset(data, model="popularity")
    rec.fit(leave_last_out_split(data))
    rec.save(tmp_path)
    other = make_dataset(random_sequences(), 20)
    with pytest.raises(UserInputError, match="trained on 6 items"):
        Recommender.load(tmp_path, other)


def test_id_two_tower_fit_evaluate_save_load(tmp_path):
    data = make_dataset(random_sequences(), 20, with_features=True)
    split = leave_last_out_split(data)
    rec = Recommender.from_dataset(data, model="id-two-tower",
                                   embedding_dim=8, max_history=4)
    model = rec.model
    assert model.user_tower == "id" and model.negatives == "in_batch"
    assert model.text_feature_dim == 0
    assert model.user_feature_vocab_sizes == [4, 3]  # age, gender
    run_dir = tmp_path / "run"
    history = rec.fit(split, run_dir=run_dir, epochs=2, batch_size=16,
                      learning_rate=1e-2, report_to="none")
    assert len(history) == 2
    assert (run_dir / "metrics.jsonl").is_file()
    assert (run_dir / "model.keras").is_file()
    assert (run_dir / "recommender.json").is_file()
    # fit set the training statistics: log q from the training counts.
    counts = split.item_counts()
    np.testing.assert_allclose(
        rec.model.item_log_q.numpy()[counts > 0],
        np.log(counts[counts > 0] / counts.sum()), rtol=1e-5)
    assert rec.model.item_trained.numpy().tolist() == (
        (counts > 0) & (np.arange(21) > 0)).astype(float).tolist()

    result = rec.evaluate(split, "test")
    assert set(result) == {"recall@10", "ndcg@10", "recall@50",
                           "ndcg@50", "coverage@10", "users"}
    for key in ("recall@10", "ndcg@10", "recall@50", "coverage@10"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["users"] == 8
    # 20 items, k = 50: every target is found.
    assert result["recall@50"] == 1.0

    top = rec.recommend(user="user0", k=5)
    seen = {f"m{i}" for i in random_sequences()["user0"]}
    assert len(top) == 5 and not seen & {r["item_id"] for r in top}
    assert [r["score"] for r in top] == sorted(
        (r["score"] for r in top), reverse=True)
    scores = rec.score_fn(np.array([0]), [np.array([], np.int32)])[0]
    assert top[0]["score"] == pytest.approx(
        max(scores[i] for i in range(1, 21) if f"m{i}" not in seen), 1e-6)

    loaded = Recommender.load(run_dir, data)
    assert loaded.config.model == "id-two-tower"
    assert loaded.evaluate(split, "test") == result
    assert loaded.recommend(user="user0", k=5) == top


def test_text_two_tower_from_a_saved_encoder(tmp_path):
    from tiny_faq import tiny_encoder
    from tfllm.recommendation.split import cold_start_split
    from tfllm.retrieval.embedding import embed_texts

    encoder = tiny_encoder()
    (tmp_path / "encoder").mkdir()
    encoder.save(tmp_path / "encoder" / "model.keras")
    data = make_dataset(random_sequences(), 20)
    split = cold_start_split(data, fraction=0.2, seed=0)
    rec = Recommender.from_dataset(
        data, model="text-two-tower", backbone=str(tmp_path / "encoder"),
        user_tower="mean", embedding_dim=8, max_history=4, split=split)
    model = rec.model
    assert model.negatives == "catalogue" and model.text_feature_dim == 16
    # The run folder's encoder was loaded, and its embeddings are cached
    # (row 0: the padding).
    for mine, saved in zip(encoder.get_weights(),
                           model.item_encoder.get_weights()):
        np.testing.assert_array_equal(mine, saved)
    features = model.item_text_features.numpy()
    np.testing.assert_allclose(
        features[1:], embed_texts(model.item_encoder, data.item_texts),
        atol=1e-6)
    assert np.linalg.norm(features[1:], axis=1) == pytest.approx(1.0, 1e-4)
    assert not features[0].any()
    # from_dataset(split=...) already masks the cold items' ids.
    assert model.item_id_mask.numpy()[split.cold_items].sum() == 0

    run_dir = tmp_path / "run"
    rec.fit(split, run_dir=run_dir, epochs=1, batch_size=64,
            report_to="none")
    cold = rec.evaluate(split, "cold", ks=(2, 4))
    assert cold["random_recall@2"] == pytest.approx(2 / 4)
    assert 0.0 <= cold["recall@2"] <= cold["recall@4"] <= 1.0
    assert cold["users"] == len(split.eval_users("cold")) > 0
    loaded = Recommender.load(run_dir, data)
    assert loaded.evaluate(split, "cold", ks=(2, 4)) == cold
    assert loaded.evaluate(split, "test") == rec.evaluate(split, "test")


def test_fine_tuned_encoder_refreshes_every_cached_item(tmp_path):
    """With `encoder_items_per_step`, the encoder trains and, after each
    epoch, the cache holds the new encoder's outputs for every item, the
    held-out (cold) ones too, which no training step re-encodes."""
    from tiny_faq import tiny_encoder
    from tfllm.recommendation.split import cold_start_split
    from tfllm.retrieval.embedding import embed_texts

    (tmp_path / "encoder").mkdir()
    tiny_encoder().save(tmp_path / "encoder" / "model.keras")
    data = make_dataset(random_sequences(), 20)
    split = cold_start_split(data, fraction=0.2, seed=0)
    rec = Recommender.from_dataset(
        data, model="text-two-tower", backbone=str(tmp_path / "encoder"),
        user_tower="mean", embedding_dim=8, max_history=4, split=split,
        encoder_items_per_step=4)
    before = [w.copy() for w in rec.model.item_encoder.get_weights()]
    cached = rec.model.item_text_features.numpy().copy()
    # A few updates: the first one of a warmup schedule has learning rate 0.
    rec.fit(split, run_dir=tmp_path / "run", epochs=3, batch_size=4,
            learning_rate=1e-2, warmup_ratio=0.0, report_to="none")
    after = rec.model.item_encoder.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    features = rec.model.item_text_features.numpy()
    np.testing.assert_allclose(
        features[1:], embed_texts(rec.model.item_encoder, data.item_texts),
        atol=1e-5)
    cold = split.cold_items
    assert not np.allclose(features[cold], cached[cold])
