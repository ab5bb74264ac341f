"""The GBDT re-ranker: pair features, the re-ranked score function, a lift
on synthetic data where the target's genre is the user's favourite.

Every test builds its own tiny `RecDataset`; no files are read.
"""

import math

import numpy as np
import pytest

from tfllm.recommendation.dataset import RecDataset
from tfllm.recommendation.metrics import evaluate_scores
from tfllm.recommendation.metrics import mask_scores
from tfllm.recommendation.metrics import topk_items
from tfllm.recommendation.ranking import TOP_N_OFFSET
from tfllm.recommendation.ranking import Reranker
from tfllm.recommendation.split import leave_last_out_split

GENRES = ("a", "b", "c", "d", "e")


def handmade():
    """5 items, 3 users; user 0's training history is items 1 and 2."""
    fields = {"title": ["i1", "i2", "i3", "i4", "i5"],
              "year": ["1990", "2000", "unknown", "1980", "2010"],
              "genres": ["a b", "b", "c", "a c", ""]}
    interactions = [  # (user, item, time)
        (0, 1, 1), (0, 2, 2), (0, 3, 3), (0, 4, 4),
        (1, 1, 1), (1, 4, 2), (1, 5, 3), (1, 2, 4),
        (2, 3, 1), (2, 4, 2), (2, 2, 3), (2, 1, 4)]
    users, items, times = map(list, zip(*interactions))
    return RecDataset(
        item_ids=[str(i) for i in range(1, 6)],
        item_texts=fields["title"], item_fields=fields,
        user_ids=["u0", "u1", "u2"],
        user_features={"age": ["24", "53", ""],
                       "gender": ["M", "F", "M"],
                       "zip_code": [f"Z{j}" for j in range(3)]},
        users=users, items=items, timestamps=times)


def test_pair_features_match_hand_computation():
    dataset = handmade()
    split = leave_last_out_split(dataset)
    features = np.eye(6)
    features[3] = [0, 1, 1, 0, 0, 0]          # item 3 between 1 and 2
    reranker = Reranker(dataset, top_n=3, item_features=features)
    assert reranker.feature_names == [
        "retrieval_score", "retrieval_score_gap", "retrieval_rank",
        "log_popularity", "history_length", "year", "year_gap",
        "genre_share", "genre_cosine", "user_age", "user_gender",
        "user_zip_code", "text_cosine"]
    history = split.history(0, "valid")
    np.testing.assert_array_equal(history, [1, 2])
    counts = split.item_counts()    # training: [1, 2], [1, 4], [3, 4]
    np.testing.assert_array_equal(counts, [0, 2, 1, 1, 2, 0])
    rows = reranker.pair_features(0, history, [4, 3, 5], [0.5, 0.25, -1.0],
                                  item_counts=counts)
    f = dict(zip(reranker.feature_names, rows.T))
    np.testing.assert_allclose(f["retrieval_score"], [0.5, 0.25, -1.0])
    np.testing.assert_allclose(f["retrieval_score_gap"], [0, -0.25, -1.5])
    np.testing.assert_allclose(f["retrieval_rank"], [0, 1, 2])
    np.testing.assert_allclose(f["log_popularity"],
                               [math.log(3), math.log(2), 0.0])
    np.testing.assert_allclose(f["history_length"], 2)
    # History years 1990, 2000: mean 1995; item 3's year is not a number.
    np.testing.assert_allclose(f["year"], [1980, np.nan, 2010])
    np.testing.assert_allclose(f["year_gap"], [-15, np.nan, 15])
    # Item 4 (a c) shares "a" with item 1 (a b), nothing with item 2 (b).
    np.testing.assert_allclose(f["genre_share"], [0.5, 0.0, 0.0])
    # Profile a=1, b=2, c=0 (vocabulary a..c); item 4 = a + c.
    np.testing.assert_allclose(
        f["genre_cosine"], [1 / (math.sqrt(2) * math.sqrt(5)), 0.0, 0.0])
    np.testing.assert_allclose(f["user_age"], 24)
    np.testing.assert_allclose(f["user_gender"], 1)     # F=0, M=1
    np.testing.assert_allclose(f["user_zip_code"], 0)   # "Z0" of Z0..Z2
    # Mean history vector e1/2 + e2/2; item 3 = e1 + e2 -> cosine 1.
    np.testing.assert_allclose(f["text_cosine"], [0.0, 1.0, 0.0], atol=1e-12)
    assert not reranker.categorical_features[reranker.feature_names.index(
        "user_age")]
    assert reranker.categorical_features[reranker.feature_names.index(
        "user_gender")]
    # A user without an age gets NaN.
    row = reranker.pair_features(2, [2], [4], [1.0], item_counts=counts)
    assert np.isnan(row[0, reranker.feature_names.index("user_age")])


def test_candidates_follow_metrics_masking():
    dataset = handmade()
    reranker = Reranker(dataset, top_n=3)
    scores = np.array([[9.0, 1.0, 5.0, 5.0, np.nan, 2.0],
                       [0.0, 3.0, 3.0, 3.0, 3.0, 3.0]])
    histories = [np.array([3]), np.array([1, 2, 4])]
    got = reranker.candidates(scores, histories)
    expected = topk_items(mask_scores(np.nan_to_num(scores, nan=-np.inf),
                                      histories), 3)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[0], [2, 5, 1])
    # Only two items left for the second user.
    np.testing.assert_array_equal(got[1], [3, 5])


def favourite_genre_data(num_users=250, num_items=100, seed=0):
    """Each user has a favourite genre (user % 5): 5 training items of it
    and 3 of other genres, then a validation and a test item of it."""
    rng = np.random.default_rng(seed)
    item_genre = np.arange(num_items) % len(GENRES)
    fields = {"title": [f"item {i}" for i in range(1, num_items + 1)],
              "year": [str(1950 + int(y)) for y in rng.integers(0, 60,
                                                                  num_items)],
              "genres": [GENRES[g] for g in item_genre]}
    users, items, times = [], [], []
    for u in range(num_users):
        genre = u % len(GENRES)
        liked = np.flatnonzero(item_genre == genre) + 1
        other = np.flatnonzero(item_genre != genre) + 1
        picked = rng.choice(liked, 7, replace=False)
        noise = rng.choice(other, 3, replace=False)
        sequence = list(rng.permutation(np.concatenate([picked[:5], noise])))
        sequence += [picked[5], picked[6]]     # validation, test
        users += [u] * len(sequence)
        items += sequence
        times += list(range(len(sequence)))
    return RecDataset(
        item_ids=[str(i) for i in range(1, num_items + 1)],
        item_texts=fields["title"], item_fields=fields,
        user_ids=[str(u) for u in range(num_users)],
        user_features={"gender": ["MF"[u % 2] for u in range(num_users)]},
        users=users, items=items, timestamps=times)


def random_retrieval(num_items):
    """Seeded per-user random scores with many ties (a fixed random
    scorer, the same for a user at every stage)."""
    def score_fn(users, histories):
        return np.stack([np.random.default_rng(1000 + int(u)).integers(
            0, 20, num_items + 1).astype(np.float64) for u in users])
    return score_fn


@pytest.fixture(scope="module")
def fitted():
    dataset = favourite_genre_data()
    split = leave_last_out_split(dataset)
    retrieval = random_retrieval(dataset.num_items)
    reranker = Reranker(dataset, top_n=30, seed=0, max_iter=50)
    reranker.fit(retrieval, split, stage="valid")
    return dataset, split, retrieval, reranker


def test_score_fn_keeps_retrieval_order_below_the_candidates(fitted):
    dataset, split, retrieval, reranker = fitted
    users = split.eval_users("test")[:20]
    histories = [split.history(u, "test") for u in users]
    raw = retrieval(users, histories)
    out = reranker.score_fn(retrieval)(users, histories)
    assert out.shape == (len(users), dataset.num_items + 1)
    retrieval_order = topk_items(mask_scores(raw, histories),
                                 dataset.num_items + 1)
    reranked_order = topk_items(mask_scores(out, histories),
                                dataset.num_items + 1)
    seen_count = [len(set(h.tolist()) | {0}) for h in histories]
    for row, candidates in enumerate(reranker.candidates(raw, histories)):
        assert len(candidates) == 30
        # The candidates are retrieval's top 30, now on top, in any order.
        np.testing.assert_array_equal(np.sort(retrieval_order[row, :30]),
                                      np.sort(candidates))
        np.testing.assert_array_equal(np.sort(reranked_order[row, :30]),
                                      np.sort(candidates))
        assert out[row, candidates].min() >= TOP_N_OFFSET
        rest = np.setdiff1d(np.arange(dataset.num_items + 1), candidates)
        assert out[row, rest].max() < 0
        # Beyond the block, retrieval's order (ties to the lower index).
        end = dataset.num_items + 1 - seen_count[row]
        np.testing.assert_array_equal(reranked_order[row, 30:end],
                                      retrieval_order[row, 30:end])
    # The probabilities really reorder the block.
    assert not np.array_equal(reranked_order[:, :30], retrieval_order[:, :30])


def test_reranker_lifts_ndcg_over_random_retrieval(fitted):
    dataset, split, retrieval, reranker = fitted
    summary = reranker.fit_summary
    assert summary["users"] == 250
    assert 0 < summary["users_with_positive"] < 250
    assert summary["positives"] == summary["users_with_positive"]
    assert summary["rows"] == 30 * summary["users_with_positive"]
    ks = (10, 30, 50)
    # Index tie order, as the re-ranker picks its candidates.
    before = evaluate_scores(retrieval, split, "test", ks=ks,
                             tie_break="index")
    after = evaluate_scores(reranker.score_fn(retrieval), split, "test",
                            ks=ks, tie_break="index")
    # Same candidate block, same order below it.
    assert after["recall@30"] == pytest.approx(before["recall@30"])
    assert after["recall@50"] == pytest.approx(before["recall@50"])
    assert after["ndcg@10"] > before["ndcg@10"] + 0.08
    assert after["ndcg@10"] > 1.8 * before["ndcg@10"]


def test_fit_is_seeded_and_validates(fitted):
    dataset, split, retrieval, reranker = fitted
    again = Reranker(dataset, top_n=30, seed=0, max_iter=50).fit(
        retrieval, split)
    users = split.eval_users("test")[:10]
    histories = [split.history(u, "test") for u in users]
    np.testing.assert_array_equal(
        reranker.score_fn(retrieval)(users, histories),
        again.score_fn(retrieval)(users, histories))
    sample = Reranker(dataset, top_n=30, max_iter=5).fit(
        retrieval, split, max_users=40)
    assert sample.fit_summary["users"] == 40
    with pytest.raises(ValueError, match="stage"):
        Reranker(dataset).fit(retrieval, split, stage="cold")
    with pytest.raises(ValueError, match="call fit first"):
        Reranker(dataset).score_fn(retrieval)
    with pytest.raises(ValueError, match="item_features"):
        Reranker(dataset, item_features=np.zeros((3, 2)))
    # Nobody's target among 1 candidate ranked by a scorer that puts the
    # target last.
    def worst(users, histories):
        scores = np.zeros((len(users), dataset.num_items + 1))
        for row, u in enumerate(users):
            scores[row, split.targets(u, "valid")] = -1.0
        return scores
    with pytest.raises(ValueError, match="nothing to train on"):
        Reranker(dataset, top_n=1).fit(worst, split)
