"""Stratified validation splits, k-fold cross-validation and subsets, seeded."""

import numpy as np

from tfllm.data.errors import UserInputError


def seeded_subset(examples, limit, seed):
    """At most `limit` examples, drawn without replacement, in file order.

    Args:
        examples: list.
        limit: int or None. None, 0 or at least `len(examples)`: all.
        seed: int. Seeds the draw (NumPy's default generator).

    Returns:
        list: the kept examples in their original order.
    """
    if not limit or limit >= len(examples):
        return examples
    keep = np.sort(np.random.default_rng(seed).permutation(
        len(examples))[:limit])
    return [examples[i] for i in keep]


def strata(labels):
    """One stratum key per example: the label, or the sorted label set."""
    return ["|".join(sorted(l)) if isinstance(l, list) else l
            for l in labels]


def stratified_split(labels, validation_fraction=0.1, seed=42):
    """Carves a validation split with each class in the same proportion.

    Each class's examples are shuffled (seeded) and `round(fraction * n)`
    of them go to validation; a class with a single example stays in
    training.

    Args:
        labels: list of str (or lists of str: the label set is the stratum).
        validation_fraction: float in (0, 1).
        seed: int.

    Returns:
        `(train_index, validation_index)`: sorted int arrays, disjoint,
        covering `range(len(labels))`.

    Raises:
        UserInputError (a ValueError): fraction out of range, or no
            example lands in validation.
    """
    if not 0 < validation_fraction < 1:
        raise UserInputError(
            f"validation_fraction must be in (0, 1): {validation_fraction}")
    rng = np.random.default_rng(seed)
    keys = np.asarray(strata(labels), dtype=object)
    validation = []
    for key in sorted(set(keys)):
        members = np.flatnonzero(keys == key)
        rng.shuffle(members)
        if len(members) > 1:
            take = int(np.floor(validation_fraction * len(members) + 0.5))
            validation.extend(members[:min(take, len(members) - 1)])
    validation = np.sort(np.asarray(validation, np.int64))
    if not len(validation):
        raise UserInputError(
            f"a validation fraction of {validation_fraction} of "
            f"{len(labels)} examples is empty (each label needs at least "
            "two examples); use a larger fraction or give a validation "
            "file (train_classifier --validation-file, faq_assistant "
            "--queries-file)")
    train = np.setdiff1d(np.arange(len(labels)), validation)
    return train, validation


def stratified_folds(labels, folds, seed=42):
    """Stratified k-fold cross-validation splits (scikit-learn, shuffled).

    Args:
        labels: list of str (or lists of str).
        folds: int >= 2.
        seed: int. Shuffles examples within classes before assigning folds.

    Returns:
        list of `folds` `(train_index, validation_index)` pairs; every
        example is in exactly one validation fold.

    Raises:
        ValueError: `folds < 2`, or more folds than examples of every class.
    """
    from sklearn.model_selection import StratifiedKFold

    if folds < 2:
        raise ValueError(f"--folds must be at least 2, got {folds}")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    keys = strata(labels)
    return [(np.asarray(t), np.asarray(v))
            for t, v in splitter.split(np.zeros(len(keys)), keys)]
