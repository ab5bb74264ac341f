"""Stratified validation splits, k-fold cross-validation, subsets (seeded)
and hash splits (one split per distinct text)."""

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


# The seed of `hash_split` for the known datasets that come without a split.
# It is fixed (not the run's `--seed`) so that their test sets stay the same
# from run to run and every such dataset splits a shared text alike.
HASH_SPLIT_SEED = 42
SPLIT_NAMES = ("train", "validation", "test")


def split_key(text):
    """The form of a text that `hash_split` hashes.

    NFKC-normalised (full-width letters, digits and punctuation become
    their ASCII forms) with all whitespace removed, so copies that differ
    only in width or spacing land in one split.

    Args:
        text: str.

    Returns:
        str.
    """
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", text).split())


def hash_unit(text, seed=HASH_SPLIT_SEED):
    """A number in [0, 1) fixed by the text and the seed (BLAKE2b, 64 bits).

    Args:
        text: str. Hashed as `split_key(text)`, UTF-8.
        seed: int.

    Returns:
        float, uniform over texts.
    """
    import hashlib

    digest = hashlib.blake2b(split_key(text).encode("utf-8"), digest_size=8,
                             key=str(seed).encode("ascii")).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def hash_split(texts, fractions=(0.8, 0.1, 0.1), seed=HASH_SPLIT_SEED):
    """Assigns each text to train, validation or test by its hash.

    A text goes to `train` when `hash_unit(text, seed) < fractions[0]`, to
    `validation` below `fractions[0] + fractions[1]`, else to `test`. The
    split of a text depends on the text and the seed only, so one text gets
    the same split in every dataset that holds it (no text of one dataset's
    test split is in another's training split), and copies differing only
    in width or whitespace (`split_key`) go together. Since the hash is
    independent of the label, each class is split in the given proportions
    in expectation: a class of `n` texts gets a test share within
    `3 * sqrt(p * (1 - p) / n)` of `p` with probability 0.997 (binomial
    standard deviation). This is the "Repeatable Splitting" pattern
    (Lakshmanan, Robinson and Munn 2020, *Machine Learning Design
    Patterns*: split on a hash of the field that must not straddle
    splits); it costs one BLAKE2b hash per text (about 1 s per million
    short texts).

    Args:
        texts: list of str.
        fractions: `(train, validation, test)` floats, each >= 0, summing
            to 1. Default `(0.8, 0.1, 0.1)`.
        seed: int. Default `HASH_SPLIT_SEED`.

    Returns:
        dict `split name -> sorted int array` of indices into `texts`,
        disjoint and covering `range(len(texts))`.

    Raises:
        UserInputError (a ValueError): bad fractions.
    """
    if len(fractions) != 3 or min(fractions) < 0 or \
            abs(sum(fractions) - 1.0) > 1e-9:
        raise UserInputError(
            f"split fractions must be 3 non-negative numbers (train, "
            f"validation, test) summing to 1, got {fractions}")
    units = np.asarray([hash_unit(t, seed) for t in texts], np.float64)
    bounds = np.cumsum(fractions)[:2]
    which = np.searchsorted(bounds, units, side="right")
    return {name: np.flatnonzero(which == i)
            for i, name in enumerate(SPLIT_NAMES)}
