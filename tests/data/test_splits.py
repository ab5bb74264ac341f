import collections

import numpy as np
import pytest

from tfllm.data.splits import stratified_folds
from tfllm.data.splits import stratified_split

LABELS = ["a"] * 50 + ["b"] * 30 + ["c"] * 19 + ["d"]


def test_stratified_split_keeps_proportions_and_is_seeded():
    train, validation = stratified_split(LABELS, 0.2, seed=1)
    assert len(np.intersect1d(train, validation)) == 0
    assert sorted(np.concatenate([train, validation])) == list(range(100))
    counts = collections.Counter(LABELS[i] for i in validation)
    assert counts == {"a": 10, "b": 6, "c": 4}  # "d" (1 example) stays
    again = stratified_split(LABELS, 0.2, seed=1)[1]
    assert again.tolist() == validation.tolist()
    assert stratified_split(LABELS, 0.2, seed=2)[1].tolist() != (
        validation.tolist())
    with pytest.raises(ValueError, match="validation_fraction"):
        stratified_split(LABELS, 1.5)


def test_kfold_covers_every_example_once_and_stratifies():
    folds = stratified_folds(LABELS[:99], 3, seed=0)
    assert len(folds) == 3
    seen = np.concatenate([v for _, v in folds])
    assert sorted(seen) == list(range(99))
    for train, validation in folds:
        assert len(np.intersect1d(train, validation)) == 0
        counts = collections.Counter(LABELS[i] for i in validation)
        assert 16 <= counts["a"] <= 17 and counts["b"] == 10
    assert [v.tolist() for _, v in stratified_folds(LABELS[:99], 3, 0)] == [
        v.tolist() for _, v in folds]
    with pytest.raises(ValueError, match="at least 2"):
        stratified_folds(LABELS, 1)


def test_multi_label_strata():
    labels = [["x", "y"], ["y", "x"], ["x"], ["x"]] * 5
    train, validation = stratified_split(labels, 0.2, seed=0)
    assert len(validation) == 4


def test_hash_split_follows_the_hash_thresholds():
    """A text's split is fixed by BLAKE2b(split_key(text), key=seed):
    [0, .8) train, [.8, .9) validation, [.9, 1) test (issue 29)."""
    import hashlib

    from tfllm.data.splits import hash_split
    from tfllm.data.splits import hash_unit

    texts = [f"评论{i}" for i in range(200)]
    expected = int.from_bytes(hashlib.blake2b(
        "评论7".encode(), digest_size=8, key=b"42").digest(), "big") / 2**64
    assert hash_unit("评论7") == expected
    splits = hash_split(texts)
    assert sorted(np.concatenate(list(splits.values()))) == list(range(200))
    for name, low, high in (("train", 0, .8), ("validation", .8, .9),
                            ("test", .9, 1)):
        assert all(low <= hash_unit(texts[i]) < high for i in splits[name])
    # Width and spacing variants share a split; another seed moves texts.
    assert hash_unit("好，不错 ！") == hash_unit("好,不错!")
    assert hash_split(texts, seed=7)["test"].tolist() != (
        splits["test"].tolist())
    with pytest.raises(ValueError, match="summing to 1"):
        hash_split(texts, (0.8, 0.1, 0.2))


def test_hash_split_is_stratified_within_three_binomial_sigmas():
    """Each class gets each split's share within 3 * sqrt(p(1-p)/n)."""
    from tfllm.data.splits import hash_split

    labels = ["pos"] * 3000 + ["neg"] * 600 + ["rare"] * 150
    texts = [f"{label}-{i}" for i, label in enumerate(labels)]
    splits = hash_split(texts)
    for name, share in (("train", .8), ("validation", .1), ("test", .1)):
        counts = collections.Counter(labels[i] for i in splits[name])
        for label, n in collections.Counter(labels).items():
            bound = 3 * np.sqrt(share * (1 - share) / n)
            assert abs(counts[label] / n - share) <= bound, (name, label)
