"""Pool-based active learning query strategies, as pure numpy functions.

Each query function takes a model's outputs on the unlabelled pool and
returns the pool positions to label next: an int64 array of at most
`batch_size` positions, most informative first, ties broken by the lowest
position, the same on every call with the same inputs (and seed).

Uncertainty scores (`*_scores`) work on the last axis of a probability
array, so the same functions score classes of a text (`[N, C]`) and tags
of every word of a sentence (`[N, W, C]`; `tfllm.active.sequence`
aggregates those per sentence).

References:
    Lewis & Gale (1994), "A Sequential Algorithm for Training Text
    Classifiers" (uncertainty sampling, least confidence). Scheffer, Decomain
    & Wrobel (2001), "Active Hidden Markov Models for Information Extraction"
    (margin). Settles (2009), "Active Learning Literature Survey" (entropy).
    Houlsby, Huszár, Ghahramani & Lengyel (2011), "Bayesian Active Learning
    for Classification and Preference Learning" and Gal, Islam & Ghahramani
    (2017), "Deep Bayesian Active Learning with Image Data" (BALD with
    MC dropout). Zhdanov (2019), "Diverse mini-batch Active Learning" and
    Ein-Dor et al. (2020), "Active Learning for BERT: An Empirical Study"
    (uncertainty pre-filter, then k-means).
"""

import numpy as np

_EPS = 1e-12


def _probabilities(probabilities, name="probabilities", ndim=None):
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim < 2 or (ndim is not None and p.ndim != ndim):
        want = f"{ndim}-d" if ndim else "at least 2-d"
        raise ValueError(f"{name}: expected a {want} array of "
                         f"probabilities (classes last), got shape {p.shape}")
    if p.shape[-1] < 2:
        raise ValueError(f"{name}: need at least 2 classes on the last "
                         f"axis, got shape {p.shape}")
    return p


def _check_batch_size(batch_size):
    if int(batch_size) != batch_size or batch_size < 0:
        raise ValueError(f"batch_size must be an int >= 0, not {batch_size!r}")
    return int(batch_size)


def rank(scores, batch_size):
    """Positions of the `batch_size` highest scores, highest first.

    Args:
        scores: float array `[N]`. Higher means more informative.
        batch_size: int >= 0. At most this many positions (fewer if N is
            smaller).

    Returns:
        int64 `[min(batch_size, N)]`; equal scores keep the lower position
        first (a stable sort).

    Raises:
        ValueError: `scores` is not 1-d, holds NaN, or `batch_size` < 0.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores: expected shape [N], got {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores hold NaN at positions "
                         f"{np.flatnonzero(np.isnan(scores))[:5].tolist()}")
    batch_size = _check_batch_size(batch_size)
    return np.argsort(-scores, kind="stable")[:batch_size].astype(np.int64)


def least_confidence_scores(probabilities):
    """`1 - max_c p_c` over the last axis (Lewis & Gale 1994).

    Args:
        probabilities: float array `[..., C]`, rows summing to 1.

    Returns:
        float64 `[...]` in `[0, 1 - 1/C]`.
    """
    p = _probabilities(probabilities)
    return 1.0 - p.max(axis=-1)


def margin_scores(probabilities):
    """`-(p_1 - p_2)`, the negated gap between the two most probable classes
    (Scheffer et al. 2001); higher is more uncertain.

    Args:
        probabilities: float array `[..., C]`, C >= 2.

    Returns:
        float64 `[...]` in `[-1, 0]`.
    """
    p = _probabilities(probabilities)
    top2 = np.sort(p, axis=-1)[..., -2:]
    return -(top2[..., 1] - top2[..., 0])


def entropy_scores(probabilities):
    """Predictive entropy `-sum_c p_c log p_c` in nats (Settles 2009).

    Args:
        probabilities: float array `[..., C]`; `0 log 0` counts as 0.

    Returns:
        float64 `[...]` in `[0, log C]`.
    """
    p = _probabilities(probabilities)
    return -(p * np.log(np.clip(p, _EPS, 1.0))).sum(axis=-1)


def bald_scores(samples):
    """BALD mutual information between the label and the model weights,
    from stochastic forward passes (Houlsby et al. 2011; Gal et al. 2017):
    `H[mean_t p_t] - mean_t H[p_t]`, in nats.

    Args:
        samples: float array `[T, ..., C]`: T MC-dropout passes (dropout on
            at prediction time), each a probability array.

    Returns:
        float64 `[...]`, >= 0 (up to rounding); 0 when all T passes agree.

    Raises:
        ValueError: fewer than 3 axes (`[T, N, C]` is the least).
    """
    s = _probabilities(samples, "samples")
    if s.ndim < 3:
        raise ValueError(f"samples: expected [T, N, C] (T MC-dropout "
                         f"passes), got shape {s.shape}")
    return entropy_scores(s.mean(axis=0)) - entropy_scores(s).mean(axis=0)


def random_sampling(num_items, batch_size, seed=0):
    """`batch_size` distinct positions of `range(num_items)`, uniformly at
    random (the passive-learning baseline).

    Args:
        num_items: int. Pool size N.
        batch_size: int >= 0.
        seed: int. Seeds a `numpy.random.Generator` (PCG64).

    Returns:
        int64 `[min(batch_size, N)]`.
    """
    batch_size = min(_check_batch_size(batch_size), int(num_items))
    rng = np.random.default_rng(seed)
    return rng.choice(int(num_items), size=batch_size,
                      replace=False).astype(np.int64)


def least_confidence(probabilities, batch_size):
    """Pool positions with the lowest top-class probability first.

    Args:
        probabilities: float `[N, C]`.
        batch_size: int >= 0.

    Returns:
        int64 `[min(batch_size, N)]`.
    """
    return rank(least_confidence_scores(
        _probabilities(probabilities, ndim=2)), batch_size)


def margin(probabilities, batch_size):
    """Pool positions with the smallest `p_1 - p_2` first.

    Args:
        probabilities: float `[N, C]`.
        batch_size: int >= 0.

    Returns:
        int64 `[min(batch_size, N)]`.
    """
    return rank(margin_scores(_probabilities(probabilities, ndim=2)),
                batch_size)


def entropy(probabilities, batch_size):
    """Pool positions with the highest predictive entropy first.

    Args:
        probabilities: float `[N, C]`.
        batch_size: int >= 0.

    Returns:
        int64 `[min(batch_size, N)]`.
    """
    return rank(entropy_scores(_probabilities(probabilities, ndim=2)),
                batch_size)


def bald(samples, batch_size):
    """Pool positions with the highest BALD mutual information first.

    Args:
        samples: float `[T, N, C]`, T MC-dropout passes.
        batch_size: int >= 0.

    Returns:
        int64 `[min(batch_size, N)]`.
    """
    return rank(bald_scores(_probabilities(samples, "samples", ndim=3)),
                batch_size)


def kmeans_diverse(scores, embeddings, batch_size, seed=0,
                   candidates_per_pick=10):
    """Uncertainty pre-filter, then k-means for a diverse batch.

    Takes the `candidates_per_pick * batch_size` highest `scores`, clusters
    their `embeddings` into `batch_size` clusters with scikit-learn's
    `KMeans` (k-means++, `n_init=1`, `random_state=seed`), and picks from
    each cluster the candidate nearest its centroid (Euclidean; ties: the
    more uncertain). Clusters are returned in order of their pick's
    uncertainty, most uncertain first (Zhdanov 2019).

    Args:
        scores: float `[N]`, higher is more uncertain (e.g.
            `margin_scores`).
        embeddings: float `[N, H]`, e.g. a model's mean-pooled encoder
            output.
        batch_size: int >= 0.
        seed: int. KMeans' `random_state`.
        candidates_per_pick: int >= 1. Pre-filter size per batch item
            (default 10, Zhdanov's beta).

    Returns:
        int64 `[min(batch_size, N)]`, distinct.

    Raises:
        ValueError: `embeddings` is not `[N, H]` with N = len(scores).
    """
    from sklearn.cluster import KMeans

    scores = np.asarray(scores, dtype=np.float64)
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != scores.shape[0]:
        raise ValueError(f"embeddings: expected shape [{scores.shape[0]}, H],"
                         f" got {x.shape}")
    batch_size = _check_batch_size(batch_size)
    candidates = rank(scores, max(1, int(candidates_per_pick)) * batch_size)
    if len(candidates) <= batch_size:
        return candidates
    kmeans = KMeans(n_clusters=batch_size, n_init=1, random_state=seed)
    assignment = kmeans.fit_predict(x[candidates])
    distance = np.linalg.norm(
        x[candidates] - kmeans.cluster_centers_[assignment], axis=1)
    picks = []
    for cluster in range(batch_size):
        members = np.flatnonzero(assignment == cluster)
        if len(members):  # candidates are ordered by uncertainty already
            picks.append(members[np.argmin(distance[members])])
    # Candidate order is uncertainty order: sorting picks keeps it.
    return candidates[np.sort(np.asarray(picks, dtype=np.int64))]


def kmeans_margin(probabilities, embeddings, batch_size, seed=0,
                  candidates_per_pick=10):
    """`kmeans_diverse` on margin scores: the `candidates_per_pick *
    batch_size` smallest-margin items, one per k-means cluster.

    Args:
        probabilities: float `[N, C]`.
        embeddings: float `[N, H]`.
        batch_size: int >= 0.
        seed: int. KMeans' `random_state`.
        candidates_per_pick: int >= 1 (default 10).

    Returns:
        int64 `[min(batch_size, N)]`.
    """
    return kmeans_diverse(
        margin_scores(_probabilities(probabilities, ndim=2)), embeddings,
        batch_size, seed, candidates_per_pick)


# name -> (query function, what it needs from the model: "none",
# "probabilities", "mc_samples", "probabilities+embeddings").
STRATEGIES = {
    "random": (random_sampling, "none"),
    "least_confidence": (least_confidence, "probabilities"),
    "margin": (margin, "probabilities"),
    "entropy": (entropy, "probabilities"),
    "bald": (bald, "mc_samples"),
    "kmeans_margin": (kmeans_margin, "probabilities+embeddings"),
}

# The uncertainty score behind each strategy (for sentence aggregation).
SCORES = {
    "least_confidence": least_confidence_scores,
    "margin": margin_scores,
    "entropy": entropy_scores,
    "bald": bald_scores,
    "kmeans_margin": margin_scores,
}


def get_strategy(name):
    """The query function registered as `name` in `STRATEGIES`.

    Raises:
        ValueError: an unknown name; the message lists the known ones.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown active learning strategy {name!r}; "
                         f"known: {', '.join(STRATEGIES)}")
    return STRATEGIES[name][0]
