"""Full-catalogue ranking metrics against hand computations.

A 6-item catalogue, 3 users with fixed scores. Time-ordered sequences:
user 0 [1, 2, 3, 4], user 1 [1, 5, 6], user 2 [2, 1, 5, 3], so the test
targets are 4, 6, 3 and the test histories {1, 2, 3}, {1, 5}, {2, 1, 5}.
"""

import numpy as np
import pytest

from tfllm.recommendation.dataset import RecDataset
from tfllm.recommendation.metrics import evaluate_scores
from tfllm.recommendation.metrics import mask_scores
from tfllm.recommendation.metrics import target_ranks
from tfllm.recommendation.metrics import topk_items
from tfllm.recommendation.split import LeaveLastOutSplit
from tfllm.recommendation.split import leave_last_out_split

SEQUENCES = [[1, 2, 3, 4], [1, 5, 6], [2, 1, 5, 3]]

# Columns 0 (padding) .. 6. Excluded cells hold large scores on purpose.
SCORES = np.array([
    # user 0: 0, 1, 2, 3 excluded; 5 > 4 = 6 -> order 5, 4, 6; target 4
    # at rank 1 (item 1's top score must not count).
    [100.0, 50.0, 0.1, 0.2, 0.3, 0.9, 0.3],
    # user 1: 1, 5 excluded; 2 = 3 = 4 > 6 -> order 2, 3, 4, 6; target 6
    # at rank 3.
    [0.0, 9.0, 0.5, 0.5, 0.5, 8.0, 0.1],
    # user 2: 1, 2, 5 excluded; 3 = 4 > 6 -> order 3, 4, 6; target 3 at
    # rank 0 (the tie goes to the lower index).
    [0.0, 9.0, 9.0, 0.4, 0.4, 9.0, 0.2],
])
RANKS = [1, 3, 0]


def make_dataset(sequences, num_items=6):
    rows = [(u, i, t) for u, seq in enumerate(sequences)
            for t, i in enumerate(seq)]
    users, items, times = zip(*rows)
    return RecDataset(
        item_ids=[str(i) for i in range(1, num_items + 1)],
        item_texts=[f"item {i}" for i in range(1, num_items + 1)],
        item_fields={}, user_ids=[str(u) for u in range(len(sequences))],
        user_features={}, users=users, items=items, timestamps=times)


def fixed_scores(matrix):
    calls = []

    def score_fn(users, histories):
        calls.append((np.asarray(users).tolist(),
                      [h.tolist() for h in histories]))
        return matrix[np.asarray(users)]

    score_fn.calls = calls
    return score_fn


def ndcg(rank):
    return 1.0 / np.log2(rank + 2)


def test_split_is_the_one_described():
    split = leave_last_out_split(make_dataset(SEQUENCES))
    assert split.test_items.tolist() == [4, 6, 3]
    assert [split.history(u, "test").tolist() for u in range(3)] == [
        [1, 2, 3], [1, 5], [2, 1, 5]]


def test_evaluate_scores_by_hand():
    split = leave_last_out_split(make_dataset(SEQUENCES))
    score_fn = fixed_scores(SCORES)
    result = evaluate_scores(score_fn, split, "test", ks=(1, 2, 4),
                             tie_break="index")
    assert score_fn.calls == [([0, 1, 2], [[1, 2, 3], [1, 5], [2, 1, 5]])]
    expected = {
        "recall@1": 1 / 3, "ndcg@1": 1 / 3,
        "recall@2": 2 / 3, "ndcg@2": (ndcg(1) + ndcg(0)) / 3,
        "recall@4": 1.0, "ndcg@4": (ndcg(1) + ndcg(3) + ndcg(0)) / 3,
        # Top-1 items: 5, 2, 3.
        "coverage@1": 3 / 6, "users": 3}
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key
    # Batching does not change anything.
    one_by_one = evaluate_scores(fixed_scores(SCORES), split, "test",
                                 ks=(1, 2, 4), batch_size=1,
                                 tie_break="index")
    assert one_by_one == pytest.approx(result)
    # A subset of users.
    subset = evaluate_scores(fixed_scores(SCORES), split, "test",
                             ks=(1, 2), users=np.array([1, 2]),
                             tie_break="index")
    assert subset["users"] == 2
    assert subset["recall@1"] == pytest.approx(1 / 2)
    assert subset["ndcg@2"] == pytest.approx(ndcg(0) / 2)


def test_coverage_counts_only_rankable_items():
    # k = 10 exceeds the 6 items; item 1 is in every user's history, so no
    # top 10 may contain it: coverage@10 is {2, 3, 4, 5, 6} / 6.
    split = leave_last_out_split(make_dataset(SEQUENCES))
    result = evaluate_scores(fixed_scores(SCORES), split, "test",
                             ks=(10, 50), tie_break="index")
    assert result["recall@10"] == 1.0
    assert result["ndcg@10"] == pytest.approx(
        (ndcg(1) + ndcg(3) + ndcg(0)) / 3)
    assert result["coverage@10"] == pytest.approx(5 / 6)


def test_ranks_and_topk_agree():
    split = leave_last_out_split(make_dataset(SEQUENCES))
    histories = [split.history(u, "test") for u in range(3)]
    targets = [split.targets(u, "test") for u in range(3)]
    masked = mask_scores(SCORES, histories, targets)
    assert np.isneginf(masked[:, 0]).all()
    assert np.isneginf(masked[0, [1, 2, 3]]).all()
    flat_targets = np.array([t[0] for t in targets])
    ranks = target_ranks(masked, flat_targets)
    assert ranks.tolist() == RANKS
    top = topk_items(masked, 4)
    assert top[0, :3].tolist() == [5, 4, 6]
    assert top[1].tolist() == [2, 3, 4, 6]
    assert top[2, :3].tolist() == [3, 4, 6]
    for row, target in enumerate(flat_targets):
        assert top[row, ranks[row]] == target
    assert top.dtype == np.int32


def test_mask_keeps_a_seen_target_and_restricts_candidates():
    scores = np.arange(7, dtype=np.float64)[None, :].repeat(2, axis=0)
    masked = mask_scores(scores, [np.array([2, 3]), np.array([6])],
                         targets=[np.array([3]), np.array([1])],
                         candidates=np.array([1, 3, 6]))
    # Row 0: 2 is seen, 3 was seen but is the target; only 1, 3, 6 rank.
    assert np.isfinite(masked[0]).nonzero()[0].tolist() == [1, 3, 6]
    # Row 1: 6 is seen and is not a target.
    assert np.isfinite(masked[1]).nonzero()[0].tolist() == [1, 3]
    assert scores[0, 2] == 2.0  # the input is not modified


def cold_split():
    data = make_dataset(SEQUENCES)
    return LeaveLastOutSplit(
        data, train_sequences=[np.array([1, 2]), np.array([1]),
                               np.array([2])],
        valid_items=np.zeros(3, np.int32), test_items=np.zeros(3, np.int32),
        cold_items=np.array([3, 4, 6], np.int32),
        cold_targets=[np.array([3, 6], np.int32), np.array([], np.int32),
                      np.array([4], np.int32)])


COLD_SCORES = np.array([
    # user 0: warm items 1, 2, 5 score high but are not candidates; cold
    # order 4, 3, 6: targets 3 (rank 1) and 6 (rank 2).
    [0.0, 9.0, 9.0, 0.5, 0.7, 9.0, 0.1],
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    # user 2: a three-way tie: order 3, 4, 6; target 4 at rank 1.
    [0.0, 0.0, 0.0, 0.3, 0.3, 0.0, 0.3],
])


def test_cold_stage_ranks_among_cold_items():
    split = cold_split()
    assert split.eval_users("cold").tolist() == [0, 2]
    score_fn = fixed_scores(COLD_SCORES)
    result = evaluate_scores(score_fn, split, "cold", ks=(1, 2),
                             tie_break="index")
    # Histories of the cold stage: the training items.
    assert score_fn.calls == [([0, 2], [[1, 2], [2]])]
    ideal_two = ndcg(0) + ndcg(1)
    expected = {
        "recall@1": 0.0, "ndcg@1": 0.0,
        "recall@2": (1 / 2 + 1) / 2,
        "ndcg@2": (ndcg(1) / ideal_two + ndcg(1) / 1.0) / 2,
        # Top-1: 4 and 3, out of 3 cold items.
        "coverage@1": 2 / 3, "users": 2,
        "random_recall@1": 1 / 3, "random_recall@2": 2 / 3}
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key


def test_cold_stage_coverage_stays_within_the_cold_items():
    # k = 10 exceeds the 3 cold items: every target is found, and the
    # coverage is the share of cold items recommended (at most 1).
    result = evaluate_scores(fixed_scores(COLD_SCORES), cold_split(), "cold",
                             ks=(10,))
    assert result["recall@10"] == 1.0
    assert result["random_recall@10"] == 1.0
    assert result["coverage@10"] == pytest.approx(1.0)


def test_errors():
    split = leave_last_out_split(make_dataset(SEQUENCES))
    with pytest.raises(ValueError, match="shape"):
        evaluate_scores(lambda u, h: np.zeros((len(u), 6)), split)
    with pytest.raises(TypeError, match="LeaveLastOutSplit"):
        evaluate_scores(fixed_scores(SCORES), object())


def test_a_constant_scorer_scores_like_random_ranking():
    """Ties are broken in a seeded random order by default: a scorer that
    cannot tell items apart gets the random-ranking value, not a bonus
    for targets with low item ids (in MovieLens the popular films). Here
    every user's target is item 1 or 2 of 200: by item index a constant
    scorer would find all of them in its top 2."""
    rng = np.random.default_rng(0)
    sequences = [list(rng.choice(np.arange(3, 201), 5, replace=False))
                 + [1 + u % 2] for u in range(400)]
    split = leave_last_out_split(make_dataset(sequences, 200))
    constant = lambda users, histories: np.zeros((len(users), 201))
    by_index = evaluate_scores(constant, split, "test", ks=(2, 10),
                               tie_break="index")
    assert by_index["recall@2"] == 1.0
    fair = evaluate_scores(constant, split, "test", ks=(2, 10))
    # random: 10 of the ~195 unseen items -> about 0.05; 400 users
    assert fair["recall@10"] == pytest.approx(10 / 195, abs=0.03)
    assert fair == evaluate_scores(constant, split, "test", ks=(2, 10))
    with pytest.raises(ValueError, match="tie_break"):
        evaluate_scores(constant, split, "test", tie_break="lowest")
