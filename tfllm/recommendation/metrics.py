"""Full-catalogue ranking metrics: Recall@k (= HR@k), NDCG@k, coverage.

Every target is ranked against the whole catalogue (or, for the cold-start
evaluation, against all cold items), never against sampled negatives
(Krichene & Rendle, KDD 2020). Items the user has already interacted with
are excluded, except the target itself.

Ties are broken by a seeded random order of the items (`tie_break=
"random"`, the default of `evaluate_scores`), so a model that cannot tell
items apart (a constant score, an id-only model on items it never saw)
scores what random ranking does, and results are reproducible. Breaking
ties by item index instead (`tie_break="index"`) would reward such a model
whenever the catalogue's low ids happen to be popular, as in MovieLens.
"""

import numpy as np

from tfllm.recommendation.split import LeaveLastOutSplit


TIE_BREAKS = ("random", "index")


def tie_keys(num_columns, users, tie_break="random", seed=0):
    """The order in which equal scores are ranked, lower key first.

    Args:
        num_columns: int. Items + 1 (column 0, the padding).
        users: int array `[batch]`. The rows' user indices.
        tie_break: str. `"random"`: for each user a permutation seeded by
            `(seed, user)` (the same user always gets the same order, and
            no item is favoured across users); `"index"`: the item index.
        seed: int. Default 0.

    Returns:
        int array `[batch, num_columns]`.

    Raises:
        ValueError: an unknown `tie_break`.
    """
    if tie_break == "index":
        return np.broadcast_to(np.arange(num_columns),
                               (len(users), num_columns))
    if tie_break != "random":
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got "
                         f"{tie_break!r}")
    return np.stack([np.random.default_rng([seed, int(u)]).permutation(
        num_columns) for u in users]) if len(users) else np.zeros(
            (0, num_columns), int)


def topk_items(scores, k, keys=None):
    """Item indices of the `k` best scores per row, best first.

    Args:
        scores: float array `[batch, num_items + 1]`; excluded items hold
            `-inf`.
        k: int.
        keys: int array `[batch, num_items + 1]` (or `[num_items + 1]`)
            or None. Tie order (`tie_keys`); None: ties go to the lower
            item index.

    Returns:
        int32 array `[batch, k]`.
    """
    if keys is None:
        order = np.argsort(-scores, axis=1, kind="stable")
    else:
        order = np.lexsort((np.broadcast_to(keys, scores.shape), -scores),
                           axis=-1)
    return order[:, :k].astype(np.int32)


def target_ranks(scores, targets, keys=None):
    """0-based rank of each target among the items of its row.

    The rank counts the items with a higher score, plus those with an equal
    score that come first in the tie order (the order of `topk_items`).

    Args:
        scores: float array `[batch, num_items + 1]`.
        targets: int array `[batch]`.
        keys: as `topk_items`.

    Returns:
        int64 array `[batch]`.
    """
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets][:, None]
    index = np.broadcast_to(
        np.arange(scores.shape[1]) if keys is None else np.asarray(keys),
        scores.shape)
    target_keys = index[rows, np.asarray(targets)][:, None]
    above = (scores > target_scores) | (
        (scores == target_scores) & (index < target_keys))
    return above.sum(axis=1)


def mask_scores(scores, histories, targets=None, candidates=None):
    """Sets the scores of excluded items to `-inf` (a copy).

    Args:
        scores: float array `[batch, num_items + 1]`; column 0 (padding) is
            always excluded.
        histories: list of int arrays. Items each row's user has seen.
        targets: list of int arrays or None. Items never excluded (a
            target the user had seen before still counts).
        candidates: int array or None. When given, only these items are
            ranked (the cold items).

    Returns:
        float64 array of the same shape.
    """
    scores = np.array(scores, np.float64)
    scores[:, 0] = -np.inf
    if candidates is not None:
        allowed = np.zeros(scores.shape[1], bool)
        allowed[candidates] = True
        scores[:, ~allowed] = -np.inf
    for row, seen in enumerate(histories):
        keep = scores[row, targets[row]] if targets is not None else None
        scores[row, seen] = -np.inf
        if targets is not None:
            scores[row, targets[row]] = keep
    return scores


def evaluate_scores(score_fn, split, stage="test", ks=(10, 50),
                    batch_size=256, users=None, tie_break="random"):
    """Ranks every evaluated user's target(s) and averages the metrics.

    Args:
        score_fn: callable `(users, histories) -> scores`: `users` an int32
            array `[batch]`, `histories` a list of int32 arrays (oldest
            first); returns a float array `[batch, num_items + 1]`.
        split: `LeaveLastOutSplit`.
        stage: str. `"valid"`, `"test"` (one target per user, whole
            catalogue) or `"cold"` (the user's cold items as targets, ranked
            among the cold items).
        ks: tuple of int. Cut-offs.
        batch_size: int. Users scored per call.
        users: int array or None. Subset of the evaluated users.
        tie_break: str. `"random"` (default: equal scores in a seeded random
            order) or `"index"` (lower item index first).

    Returns:
        dict: `recall@k` and `ndcg@k` for every k (means over users, in
        [0, 1]; for one target Recall@k equals HR@k), `coverage@k` for k =
        `ks[0]` (share of the catalogue, or of the cold items, in some
        user's top k; excluded items never count), `users` (int); for
        `"cold"` also `random_recall@k` (k / number of cold items, the
        expected value of a random ranking).
    """
    if not isinstance(split, LeaveLastOutSplit):
        raise TypeError("split must be a LeaveLastOutSplit")
    if users is None:
        users = split.eval_users(stage)
    candidates = split.cold_items if stage == "cold" else None
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got "
                         f"{tie_break!r}")
    catalogue = (len(candidates) if candidates is not None
                 else split.num_items)
    top = max(ks)
    sums = {f"{name}@{k}": 0.0 for k in ks for name in ("recall", "ndcg")}
    recommended = np.zeros(split.num_items + 1, bool)
    for start in range(0, len(users), batch_size):
        batch = np.asarray(users[start:start + batch_size], np.int32)
        histories = [split.history(u, stage) for u in batch]
        targets = [split.targets(u, stage) for u in batch]
        scores = np.asarray(score_fn(batch, histories))
        if scores.shape != (len(batch), split.num_items + 1):
            raise ValueError(
                f"score_fn returned shape {scores.shape}, expected "
                f"{(len(batch), split.num_items + 1)}")
        scores = mask_scores(scores, histories, targets, candidates)
        keys = tie_keys(scores.shape[1], batch, tie_break)
        best = topk_items(scores, top, keys)
        # Only ranked items count: when fewer than ks[0] items are left,
        # the top k also holds excluded (-inf) ones.
        shown = best[:, :ks[0]]
        ranked = np.isfinite(np.take_along_axis(scores, shown, axis=1))
        recommended[shown[ranked]] = True
        for row, target in enumerate(targets):
            position = {item: r for r, item in enumerate(best[row])}
            ranks = np.array([position.get(t, top) for t in target])
            for k in ks:
                hit = ranks < k
                sums[f"recall@{k}"] += hit.sum() / len(target)
                ideal = np.sum(1.0 / np.log2(np.arange(min(len(target), k))
                                             + 2))
                dcg = np.sum(1.0 / np.log2(ranks[hit] + 2))
                sums[f"ndcg@{k}"] += dcg / ideal
    count = len(users)
    result = {name: value / max(count, 1) for name, value in sums.items()}
    recommended[0] = False
    result[f"coverage@{ks[0]}"] = float(recommended.sum() / catalogue)
    result["users"] = int(count)
    if stage == "cold":
        for k in ks:
            result[f"random_recall@{k}"] = min(k, catalogue) / catalogue
    return result
