"""The ranking stage: a gradient-boosted re-ranker over retrieval's top N.

A retrieval model (two-tower, popularity, ...) scores the whole catalogue;
`Reranker` re-scores each user's `top_n` best retrieval candidates with
features of the (user, candidate) pair and scikit-learn's
`HistGradientBoostingClassifier` (a pointwise binary classifier: is this
candidate the user's next item?). The two-stage design follows the usual
retrieval-then-ranking recommender (e.g. Covington et al., "Deep Neural
Networks for YouTube Recommendations", RecSys 2016), with a GBDT ranker as
in many production systems.

Protocol (`tfllm.recommendation.split`): the re-ranker is trained on the
**validation** targets (`fit(..., stage="valid")`: the histories are the
training items, the label is the validation item) and evaluated on the
**test** targets with `evaluate_scores(reranker.score_fn(retrieval),
split, "test")`. The test target is never seen in training. Test
histories contain the validation item (`LeaveLastOutSplit.history`), so
the history features at test time cover one more item than at fit time;
item popularity always counts the training interactions only
(`LeaveLastOutSplit.item_counts`).

The retrieval model should itself be trained on the training sequences
only; a retrieval model that saw the validation items would give the
re-ranker candidates (and scores) it will not see in that form at test
time.
"""

import math
import re
import time

import numpy as np

from tfllm.recommendation.split import LeaveLastOutSplit
from tfllm.utils.logging import get_logger

logger = get_logger(__name__)

# Re-ranked candidates score in [TOP_N_OFFSET, TOP_N_OFFSET + 1 + 1e-9];
# every other item scores in (-1, 0), in retrieval order.
TOP_N_OFFSET = 1.0
# Candidates with the same classifier probability keep their retrieval
# order through a tie-break term below this size.
_TIE_BREAK = 1e-9
# A user column with more distinct values than this (and not numeric) is
# left out (ml-100k's zip codes); HistGradientBoosting allows at most 255
# categories per feature.
MAX_USER_CATEGORIES = 64

DEFAULT_GBDT_PARAMS = {
    "max_iter": 200,
    "learning_rate": 0.05,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": "auto",
}


class Reranker:
    """Re-scores retrieval's top-N candidates with a seeded GBDT classifier.

    Features of a (user, candidate) pair, in `feature_names` order (a group
    is left out when the dataset lacks its field):

    - `retrieval_score`: the retrieval score (non-finite -> NaN);
    - `retrieval_score_gap`: that score minus the user's best candidate
      score (comparable across users whose raw scores are on different
      scales);
    - `retrieval_rank`: 0-based rank among the user's candidates;
    - `log_popularity`: `log(1 + training interactions of the item)`;
    - `history_length`: number of items in the user's history;
    - `year`: the item's `year` field as a number (missing or not a
      number -> NaN); `year_gap`: `year` minus the mean year of the
      history items that have one (NaN when either is missing);
    - `genre_share`: share of the history items that share at least one
      genre with the candidate; `genre_cosine`: cosine between the
      candidate's genre multi-hot and the history's genre profile (the sum
      of its items' multi-hots). Genres come from the space-separated
      `genres` item field (a list is accepted too); 0 when either side has
      no genre;
    - `user_<column>` for every `user_features` column: numeric when every
      non-empty value parses as a number (ml-100k's `age`), else a
      categorical code (`gender`, `occupation`; empty -> NaN, a column with
      more than `MAX_USER_CATEGORIES` values, such as zip codes, is left
      out);
    - `text_cosine` (only with `item_features`): cosine between the
      candidate's feature vector and the mean vector of the history items.

    Training (`fit`) uses the validation targets; evaluation uses the test
    targets (see the module docstring). Users whose validation target is
    not among their `top_n` candidates (or who have no target) are left out
    of training: they have no positive, and since the re-ranker only orders
    the candidates, its job is to rank within candidate sets that do hold
    the target. How many such users there were is in `fit_summary`.

    Args:
        dataset: `RecDataset`. Items and users the features are read from.
        top_n: int. Candidates re-ranked per user. Default 100.
        item_features: float array `[num_items + 1, H]` or None. Item
            vectors (e.g. encoder outputs of the item texts) for the
            `text_cosine` feature; row 0 is the padding and is never used.
        seed: int. `random_state` of the classifier and the user sample of
            `fit(max_users=...)`. Default 0.
        **gbdt_params: passed to `HistGradientBoostingClassifier`,
            overriding `DEFAULT_GBDT_PARAMS`.

    Attributes:
        feature_names: list of str. The feature columns.
        model: the fitted `HistGradientBoostingClassifier` or None.
        fit_summary: dict or None. Users, users with a positive, rows,
            positives and seconds of the last `fit`.
    """

    def __init__(self, dataset, top_n=100, item_features=None, seed=0,
                 **gbdt_params):
        if top_n < 1:
            raise ValueError(f"top_n must be at least 1, got {top_n}")
        self.dataset = dataset
        self.top_n = int(top_n)
        self.seed = int(seed)
        self.gbdt_params = {**DEFAULT_GBDT_PARAMS, **gbdt_params}
        self.model = None
        self.fit_summary = None
        self.item_counts = None
        num_rows = dataset.num_items + 1

        self._years = None
        if "year" in dataset.item_fields:
            self._years = np.array(
                [np.nan] + [_number(v) for v in dataset.item_fields["year"]],
                np.float64)
        self._genres = None
        if "genres" in dataset.item_fields:
            tokens = [_tokens(v) for v in dataset.item_fields["genres"]]
            vocabulary = sorted({t for item in tokens for t in item})
            if vocabulary:
                column = {g: j for j, g in enumerate(vocabulary)}
                self._genres = np.zeros((num_rows, len(vocabulary)),
                                        np.float64)
                for i, item in enumerate(tokens):
                    self._genres[i + 1, [column[t] for t in item]] = 1.0
                self.genre_vocabulary = vocabulary

        self._user_columns = []   # (name, float array [num_users], is_cat)
        for name, values in dataset.user_features.items():
            values = ["" if v is None else str(v).strip() for v in values]
            present = [v for v in values if v]
            if not present:
                continue
            numbers = [_number(v) for v in present]
            if all(not math.isnan(x) for x in numbers):
                column = np.array([_number(v) if v else np.nan
                                   for v in values], np.float64)
                self._user_columns.append((name, column, False))
                continue
            categories = sorted(set(present))
            if len(categories) > MAX_USER_CATEGORIES:
                logger.info("user feature %r left out of the re-ranker: %d "
                            "categories (more than %d)", name,
                            len(categories), MAX_USER_CATEGORIES)
                continue
            code = {c: float(j) for j, c in enumerate(categories)}
            column = np.array([code.get(v, np.nan) for v in values],
                              np.float64)
            self._user_columns.append((name, column, True))

        self._item_features = None
        if item_features is not None:
            item_features = np.asarray(item_features, np.float64)
            if item_features.ndim != 2 or item_features.shape[0] != num_rows:
                raise ValueError(
                    f"item_features must have shape [{num_rows}, H], got "
                    f"{item_features.shape}")
            self._item_features = item_features
            norms = np.linalg.norm(item_features, axis=1, keepdims=True)
            self._item_unit = item_features / np.maximum(norms, 1e-12)

        names = ["retrieval_score", "retrieval_score_gap", "retrieval_rank",
                 "log_popularity", "history_length"]
        if self._years is not None:
            names += ["year", "year_gap"]
        if self._genres is not None:
            names += ["genre_share", "genre_cosine"]
        names += [f"user_{name}" for name, _, _ in self._user_columns]
        if self._item_features is not None:
            names.append("text_cosine")
        self.feature_names = names
        self.categorical_features = np.array(
            [n in {f"user_{name}" for name, _, cat in self._user_columns
                   if cat} for n in names], bool)

    # ------------------------------------------------------------------
    # Candidates and features.

    def candidates(self, scores, histories):
        """Each row's `top_n` retrieval candidates, best first.

        The order is that of `metrics.topk_items(metrics.mask_scores(
        scores, histories))`: item 0 and the history items are excluded,
        higher scores first, ties to the lower index (NaN counts as -inf).
        A user with fewer than `top_n` items left gets them all.

        Args:
            scores: float array `[batch, num_items + 1]`. Retrieval scores.
            histories: list of int arrays.

        Returns:
            list of int32 arrays (candidate items per row).
        """
        scores = _clean(scores)
        index = np.arange(scores.shape[1])
        result = []
        for row, history in enumerate(histories):
            excluded = np.zeros(scores.shape[1], bool)
            excluded[0] = True
            excluded[np.asarray(history, np.int64)] = True
            # lexsort: last key first; stable, so ties go to the lower index.
            order = np.lexsort((index, -scores[row], excluded))
            count = min(self.top_n, int((~excluded).sum()))
            result.append(order[:count].astype(np.int32))
        return result

    def pair_features(self, user, history, candidates, retrieval_scores,
                      item_counts=None):
        """Feature rows of user `user` and each of `candidates`.

        Args:
            user: int. User index.
            history: int array. The user's history at this stage.
            candidates: int array `[n]`, in retrieval order (the rank
                feature is the position here).
            retrieval_scores: float array `[n]`. Their retrieval scores.
            item_counts: int array `[num_items + 1]` or None. Training
                interactions per item; None uses those stored by `fit`.

        Returns:
            float64 array `[n, len(feature_names)]`.
        """
        if item_counts is None:
            item_counts = self.item_counts
        if item_counts is None:
            raise ValueError("pass item_counts (split.item_counts()) or "
                             "call fit first")
        candidates = np.asarray(candidates, np.int64)
        history = np.asarray(history, np.int64)
        history = history[history > 0]
        n = len(candidates)
        scores = np.asarray(retrieval_scores, np.float64).copy()
        scores[~np.isfinite(scores)] = np.nan
        best = np.nanmax(scores) if np.isfinite(scores).any() else np.nan
        columns = [scores, scores - best, np.arange(n, dtype=np.float64),
                   np.log1p(np.asarray(item_counts, np.float64)[candidates]),
                   np.full(n, float(len(history)))]
        if self._years is not None:
            year = self._years[candidates]
            known = self._years[history]
            known = known[~np.isnan(known)]
            mean = known.mean() if len(known) else np.nan
            columns += [year, year - mean]
        if self._genres is not None:
            cand = self._genres[candidates]                  # [n, G]
            hist = self._genres[history]                     # [L, G]
            if len(history):
                share = ((hist @ cand.T) > 0).mean(axis=0)
            else:
                share = np.zeros(n)
            profile = hist.sum(axis=0)
            denominator = (np.linalg.norm(cand, axis=1)
                           * np.linalg.norm(profile))
            cosine = np.divide(cand @ profile, denominator,
                               out=np.zeros(n), where=denominator > 0)
            columns += [share, cosine]
        for _, values, _ in self._user_columns:
            columns.append(np.full(n, values[user]))
        if self._item_features is not None:
            if len(history):
                mean = self._item_features[history].mean(axis=0)
                norm = np.linalg.norm(mean)
                cosine = (self._item_unit[candidates] @ mean
                          / max(norm, 1e-12))
            else:
                cosine = np.zeros(n)
            columns.append(cosine)
        return np.stack(columns, axis=1)

    def _batch_features(self, users, histories, scores, item_counts):
        scores = _clean(scores)
        candidates = self.candidates(scores, histories)
        features = [self.pair_features(u, h, c, scores[row, c], item_counts)
                    for row, (u, h, c) in enumerate(
                        zip(users, histories, candidates))]
        return candidates, features

    # ------------------------------------------------------------------
    # Training and scoring.

    def fit(self, retrieval_score_fn, split, stage="valid", max_users=None,
            batch_size=256):
        """Trains the classifier on `stage`'s targets (validation data).

        For every user evaluated at `stage` (or a seeded sample of
        `max_users` of them), the `top_n` retrieval candidates of the
        stage's history are labelled 1 for the stage's target, 0 otherwise.
        Users whose target is not among their candidates are left out (no
        positive; see the class docstring).

        Args:
            retrieval_score_fn: callable `(users, histories) -> scores`, as
                for `evaluate_scores`.
            split: `LeaveLastOutSplit`. Its `item_counts()` (training
                interactions) give the popularity feature.
            stage: str. `"valid"` (the protocol: train on the validation
                targets, evaluate on test). `"test"` is accepted with a
                warning (the test targets would then be training labels).
            max_users: int or None. Train on a seeded sample of this many
                users.
            batch_size: int. Users per retrieval call.

        Returns:
            self.

        Raises:
            ValueError: an unknown stage, or no user has its target among
                the candidates.
        """
        from sklearn.ensemble import HistGradientBoostingClassifier

        if not isinstance(split, LeaveLastOutSplit):
            raise TypeError("split must be a LeaveLastOutSplit")
        if stage not in ("valid", "test"):
            raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
        if stage == "test":
            logger.warning("Reranker.fit on the test targets: evaluate it on "
                           "other data, not on test")
        start = time.perf_counter()
        self.item_counts = split.item_counts()
        users = split.eval_users(stage)
        if max_users is not None and max_users < len(users):
            rng = np.random.default_rng(self.seed)
            users = np.sort(rng.choice(users, max_users, replace=False))
        rows, labels = [], []
        with_positive = 0
        for begin in range(0, len(users), batch_size):
            batch = np.asarray(users[begin:begin + batch_size], np.int32)
            histories = [split.history(u, stage) for u in batch]
            scores = np.asarray(retrieval_score_fn(batch, histories))
            _check_shape(scores, len(batch), split.num_items)
            candidates, features = self._batch_features(
                batch, histories, scores, self.item_counts)
            for u, cand, feats in zip(batch, candidates, features):
                label = np.isin(cand, split.targets(u, stage))
                if not label.any():
                    continue
                with_positive += 1
                rows.append(feats)
                labels.append(label.astype(np.int32))
        if not rows:
            raise ValueError(
                f"no user's {stage} target is among the top {self.top_n} "
                "retrieval candidates; nothing to train on")
        x = np.concatenate(rows)
        y = np.concatenate(labels)
        self.model = HistGradientBoostingClassifier(
            random_state=self.seed,
            categorical_features=(self.categorical_features
                                  if self.categorical_features.any()
                                  else None),
            **self.gbdt_params)
        self.model.fit(x, y)
        self.fit_summary = {
            "users": int(len(users)), "users_with_positive": with_positive,
            "rows": int(len(y)), "positives": int(y.sum()),
            "seconds": time.perf_counter() - start}
        logger.info("Reranker fit on %d of %d users (target in the top %d), "
                    "%d rows, %.1f s", with_positive, len(users), self.top_n,
                    len(y), self.fit_summary["seconds"])
        return self

    def predict(self, users, histories, scores):
        """Classifier probabilities of each row's candidates.

        Args:
            users: int array `[batch]`.
            histories: list of int arrays.
            scores: float array `[batch, num_items + 1]`. Retrieval scores.

        Returns:
            (candidates, probabilities): two lists of arrays per row, the
            candidates in retrieval order.
        """
        if self.model is None:
            raise ValueError("call fit first")
        candidates, features = self._batch_features(
            users, histories, scores, self.item_counts)
        sizes = [len(c) for c in candidates]
        if sum(sizes) == 0:
            return candidates, [np.zeros(0) for _ in candidates]
        probabilities = self.model.predict_proba(
            np.concatenate(features))[:, 1]
        return candidates, np.split(probabilities, np.cumsum(sizes)[:-1])

    def score_fn(self, retrieval_score_fn):
        """A score function with the re-ranked candidates on top.

        Per user, the `top_n` retrieval candidates score `TOP_N_OFFSET +
        probability` (plus a tie-break below 1e-9 that keeps retrieval
        order among equal probabilities), so they rank above every other
        item; all other items score in (-1, 0) in retrieval order (ties to
        the lower index, as `metrics.topk_items`). Recall@k for k >=
        `top_n` is therefore that of retrieval. History items are scored
        like the other non-candidates; `evaluate_scores` masks them.

        Args:
            retrieval_score_fn: the retrieval model's score function (the
                one `fit` used).

        Returns:
            callable `(users, histories) -> float64 [batch, num_items + 1]`
            for `evaluate_scores`.
        """
        if self.model is None:
            raise ValueError("call fit first")

        def rerank(users, histories):
            scores = _clean(np.asarray(retrieval_score_fn(users, histories)))
            _check_shape(scores, len(users), self.dataset.num_items)
            width = scores.shape[1]
            order = np.argsort(-scores, axis=1, kind="stable")
            ranks = np.empty_like(order)
            np.put_along_axis(ranks, order,
                              np.broadcast_to(np.arange(width), order.shape),
                              axis=1)
            out = -(ranks + 1.0) / (width + 1.0)
            candidates, probabilities = self.predict(users, histories, scores)
            for row, (cand, prob) in enumerate(zip(candidates, probabilities)):
                tie = _TIE_BREAK * (len(cand) - np.arange(len(cand))) / max(
                    len(cand), 1)
                out[row, cand] = TOP_N_OFFSET + prob + tie
            return out

        return rerank


def _clean(scores):
    """float64 copy with NaN as -inf."""
    scores = np.array(scores, np.float64)
    scores[np.isnan(scores)] = -np.inf
    return scores


def _check_shape(scores, batch, num_items):
    if scores.shape != (batch, num_items + 1):
        raise ValueError(f"retrieval score_fn returned shape {scores.shape}, "
                         f"expected {(batch, num_items + 1)}")


def _number(value):
    """float of a field value, NaN when it is not a finite number."""
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else ""
    text = str(value).strip() if value is not None else ""
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        return np.nan
    number = float(text)
    return number if math.isfinite(number) else np.nan


def _tokens(value):
    """Genre tokens of a field value (space-separated str or a list)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return str(value).split()
