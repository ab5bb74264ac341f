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
