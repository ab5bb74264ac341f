"""Query strategies against hand computations (issue 31, active learning)."""

import math

import numpy as np
import pytest

from tfllm.active import strategies as s

# Four pool items, three classes. By hand:
#   item  max p  1-max  top2 gap  entropy (nats)
#   0     0.90   0.10   0.85      -(.9ln.9+.05ln.05*2) = 0.3944
#   1     0.40   0.60   0.05      -(.4ln.4+.35ln.35+.25ln.25) = 1.0805
#   2     0.50   0.50   0.00      -(.5ln.5*2) = 0.6931
#   3     0.60   0.40   0.20      -(.6ln.6+.2ln.2*2) = 0.9503
P = np.array([[0.90, 0.05, 0.05],
              [0.40, 0.35, 0.25],
              [0.50, 0.50, 0.00],
              [0.60, 0.20, 0.20]])


def test_least_confidence_margin_entropy_orders():
    assert s.least_confidence(P, 4).tolist() == [1, 2, 3, 0]
    assert s.margin(P, 4).tolist() == [2, 1, 3, 0]
    assert s.entropy(P, 2).tolist() == [1, 3]
    np.testing.assert_allclose(s.entropy_scores(P)[[0, 2]],
                               [0.394398, math.log(2)], atol=1e-6)


def test_ties_go_to_the_lowest_position():
    tied = np.array([[0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.5, 0.5]])
    assert s.margin(tied, 3).tolist() == [0, 2, 3]
    assert s.least_confidence(tied, 2).tolist() == [0, 2]


def test_bald_equals_hand_mutual_information():
    # Item 0: the two passes disagree ([1,0] vs [0,1]): H(mean)=ln 2,
    # mean H = 0, MI = ln 2. Item 1: both [.5,.5]: MI = 0 (uncertain but
    # agreed). Item 2: [.8,.2] and [.6,.4]: mean [.7,.3];
    # H = -(.7ln.7+.3ln.3) = .610864; H1 = .500402, H2 = .673012,
    # MI = .610864 - .586707 = .024157.
    samples = np.array([[[1.0, 0.0], [0.5, 0.5], [0.8, 0.2]],
                        [[0.0, 1.0], [0.5, 0.5], [0.6, 0.4]]])
    np.testing.assert_allclose(s.bald_scores(samples),
                               [math.log(2), 0.0, 0.024157], atol=1e-5)
    assert s.bald(samples, 3).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="3-d"):
        s.bald(samples[0], 1)


def test_random_is_seeded_and_distinct():
    a = s.random_sampling(100, 10, seed=3)
    assert a.tolist() == s.random_sampling(100, 10, seed=3).tolist()
    assert len(set(a.tolist())) == 10
    assert a.tolist() != s.random_sampling(100, 10, seed=4).tolist()
    assert len(s.random_sampling(5, 10, seed=0)) == 5


def test_kmeans_picks_the_item_nearest_each_centroid():
    # Two clusters: {0, 1, 2} around (0, 0) and {3, 4, 5} around (10, 10);
    # centroids (0, 1/3)... by hand: cluster A = (0,0),(0,1),(0,0) -> mean
    # (0, 1/3): nearest is item 0 (distance 1/3; item 2 ties, lower
    # uncertainty rank loses). Cluster B = (10,10),(10,12),(10,11) -> mean
    # (10, 11): nearest is item 5.
    embeddings = np.array([[0, 0], [0, 1], [0, 0], [10, 10], [10, 12],
                           [10, 11]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    picks = s.kmeans_diverse(scores, embeddings, 2, seed=0,
                             candidates_per_pick=3)
    assert picks.tolist() == [0, 5]
    # The pre-filter keeps the top 2 * 1 = 2 by score (items 0, 1): the
    # far cluster is never considered.
    assert s.kmeans_diverse(scores, embeddings, 1, seed=0,
                            candidates_per_pick=2).tolist() in ([0], [1])


def test_kmeans_margin_uses_margin_as_prefilter():
    # Margins: item 0 gap .8, item 1 gap 0, item 2 gap .1, item 3 gap .6;
    # top 2 (factor 1 * batch 2) by smallest gap are items 1 and 2; two
    # clusters of one item each: both picked, more uncertain first.
    probabilities = np.array([[.9, .1], [.5, .5], [.55, .45], [.8, .2]])
    embeddings = np.arange(8, dtype=float).reshape(4, 2)
    assert s.kmeans_margin(probabilities, embeddings, 2, 0,
                           candidates_per_pick=1).tolist() == [1, 2]


def test_registry_and_bad_inputs():
    assert s.get_strategy("margin") is s.margin
    with pytest.raises(ValueError, match="known: random, least_confidence"):
        s.get_strategy("coreset")
    with pytest.raises(ValueError, match="shape"):
        s.margin(np.ones(3), 1)
    with pytest.raises(ValueError, match="NaN"):
        s.rank(np.array([0.1, np.nan]), 1)
