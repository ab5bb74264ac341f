"""Leave-last-out and cold-start splits of a `RecDataset`.

The protocol (as RecBole's `LS` split with time ordering, and SASRec, Kang
& McAuley 2018): per user, interactions are ordered by time (ties keep file
order); the last one is the test target, the one before it the validation
target, the rest is training. Evaluation ranks the target against the whole
catalogue with the items the user has already interacted with excluded
(`tfllm.recommendation.metrics`; no sampled negatives: Krichene & Rendle,
"On Sampled Metrics for Item Recommendation", KDD 2020).

The cold-start split holds a seeded fraction of the items out of training
altogether; they are then ranked from their text alone.
"""

import dataclasses
from typing import Optional

import numpy as np

from tfllm.recommendation.dataset import RecDataset
from tfllm.utils.logging import get_logger

logger = get_logger(__name__)

# A user needs a training interaction besides the two held-out ones.
MIN_INTERACTIONS = 3


@dataclasses.dataclass
class LeaveLastOutSplit:
    """Per-user training sequences and held-out validation/test items.

    Attributes:
        dataset: the `RecDataset` split.
        train_sequences: list (one per user index) of int32 arrays of item
            indices in time order. Users with fewer than `MIN_INTERACTIONS`
            (3) interactions keep them all here and are not evaluated.
        valid_items: int32 array `[num_users]`. Validation target per user,
            0 for users that are not evaluated.
        test_items: int32 array `[num_users]`. Test target per user, or 0.
        cold_items: int32 array or None. Item indices held out of training
            (`cold_start_split`); None for the standard split.
        cold_targets: list of int32 arrays or None. Per user, the cold items
            they interacted with (the cold-start evaluation's targets).
    """

    dataset: RecDataset
    train_sequences: list
    valid_items: np.ndarray
    test_items: np.ndarray
    cold_items: Optional[np.ndarray] = None
    cold_targets: Optional[list] = None

    @property
    def num_items(self):
        return self.dataset.num_items

    def eval_users(self, stage):
        """int32 array of the user indices evaluated at `stage`.

        Args:
            stage: str. `"valid"`, `"test"` or `"cold"`.
        """
        if stage == "cold":
            if self.cold_targets is None:
                raise ValueError("this split has no cold items "
                                 "(use cold_start_split)")
            return np.array([u for u, t in enumerate(self.cold_targets)
                             if len(t)], np.int32)
        targets = self.valid_items if stage == "valid" else self.test_items
        return np.flatnonzero(targets).astype(np.int32)

    def history(self, user, stage):
        """The items user `user` has interacted with before `stage`'s target.

        Args:
            user: int. User index.
            stage: str. `"valid"` (training items), `"test"` (training items
                and the validation item) or `"cold"` (training items).

        Returns:
            int32 array of item indices, oldest first.
        """
        sequence = self.train_sequences[user]
        if stage == "test" and self.valid_items[user]:
            sequence = np.append(sequence, self.valid_items[user])
        return sequence.astype(np.int32)

    def targets(self, user, stage):
        """The item(s) to be retrieved for `user` at `stage` (int32 array)."""
        if stage == "cold":
            return self.cold_targets[user]
        item = (self.valid_items if stage == "valid" else self.test_items)[user]
        return np.array([item] if item else [], np.int32)

    def train_interactions(self):
        """int: training interactions (sum of training sequence lengths)."""
        return int(sum(len(s) for s in self.train_sequences))

    def item_counts(self):
        """int64 array `[num_items + 1]`: training interactions per item
        (index 0, the padding, counts 0)."""
        counts = np.zeros(self.num_items + 1, np.int64)
        for sequence in self.train_sequences:
            np.add.at(counts, sequence, 1)
        return counts


def user_sequences(dataset):
    """Each user's item indices in time order (ties keep file order).

    Args:
        dataset: `RecDataset`.

    Returns:
        list of int32 arrays, one per user index.
    """
    order = np.lexsort((np.arange(dataset.num_interactions),
                        dataset.timestamps, dataset.users))
    users = dataset.users[order]
    items = dataset.items[order]
    bounds = np.searchsorted(users, np.arange(dataset.num_users + 1))
    return [items[bounds[u]:bounds[u + 1]].astype(np.int32)
            for u in range(dataset.num_users)]


def leave_last_out_split(dataset):
    """Splits every user's time-ordered interactions: last test, one before
    validation, the rest training.

    Args:
        dataset: `RecDataset`.

    Returns:
        `LeaveLastOutSplit`. Users with fewer than 3 interactions are
        training-only (counted in a log message).
    """
    sequences = user_sequences(dataset)
    valid = np.zeros(dataset.num_users, np.int32)
    test = np.zeros(dataset.num_users, np.int32)
    train = []
    short = 0
    for u, sequence in enumerate(sequences):
        if len(sequence) < MIN_INTERACTIONS:
            short += int(len(sequence) > 0)
            train.append(sequence)
            continue
        train.append(sequence[:-2])
        valid[u], test[u] = sequence[-2], sequence[-1]
    if short:
        logger.info("%d users with fewer than %d interactions are used for "
                    "training only (not evaluated)", short, MIN_INTERACTIONS)
    return LeaveLastOutSplit(dataset, train, valid, test)


def cold_start_split(dataset, fraction=0.1, seed=0):
    """Holds a seeded `fraction` of the items out of all training data.

    The cold items are removed from every user's sequence before the
    leave-last-out split, so neither training nor the histories that query
    the model contain them. Each user's targets are the cold items they
    interacted with; they are ranked among the cold items only, so random
    ranking scores Recall@k = k / number of cold items.

    Args:
        dataset: `RecDataset`.
        fraction: float in (0, 1). Share of the catalogue held out. Default
            0.1.
        seed: int. Seeds the choice of items. Default 0.

    Returns:
        `LeaveLastOutSplit` with `cold_items` and `cold_targets` set.

    Raises:
        ValueError: `fraction` outside (0, 1) or it selects no item.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    count = int(round(fraction * dataset.num_items))
    if count < 1:
        raise ValueError(f"fraction {fraction} of {dataset.num_items} items "
                         "selects no item")
    rng = np.random.default_rng(seed)
    cold = np.sort(rng.choice(np.arange(1, dataset.num_items + 1), count,
                              replace=False)).astype(np.int32)
    is_cold = np.zeros(dataset.num_items + 1, bool)
    is_cold[cold] = True
    warm = ~is_cold[dataset.items]
    warm_data = dataclasses.replace(
        dataset, users=dataset.users[warm], items=dataset.items[warm],
        timestamps=dataset.timestamps[warm],
        ratings=None if dataset.ratings is None else dataset.ratings[warm])
    split = leave_last_out_split(warm_data)
    split.dataset = dataset
    targets = [[] for _ in range(dataset.num_users)]
    for u, i in zip(dataset.users[~warm], dataset.items[~warm]):
        targets[u].append(i)
    split.cold_items = cold
    split.cold_targets = [np.unique(np.array(t, np.int32)) for t in targets]
    return split
