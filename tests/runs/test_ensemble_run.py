"""Ensemble runs (issue 29, fine-tuning strategies): member seeds and
folds, and the flags of `tfllm train ner|classifier`."""

import pytest

from tfllm.cli import train_classifier
from tfllm.cli import train_ner
from tfllm.cli.args import parse_dataclasses
from tfllm.runs.ensemble_run import member_plans


def test_seed_members_train_on_everything():
    assert member_plans(42, ensemble_seeds=3) == [(42, None), (43, None),
                                                  (44, None)]


def test_fold_members_each_leave_one_fold_out():
    plans = member_plans(7, ensemble_folds=3, num_examples=10)
    assert [seed for seed, _ in plans] == [7, 8, 9]
    held = [set(range(10)) - set(rows) for _, rows in plans]
    # Folds of 4, 3, 3 sentences that partition the training split.
    assert sorted(len(h) for h in held) == [3, 3, 4]
    assert set().union(*held) == set(range(10))
    assert sum(len(h) for h in held) == 10
    assert member_plans(7, ensemble_folds=3, num_examples=10) == plans


def test_stratified_fold_members():
    labels = ["a"] * 4 + ["b"] * 2
    plans = member_plans(0, ensemble_folds=2, labels=labels)
    for _, rows in plans:
        held = set(range(6)) - set(rows)
        assert sorted(labels[i] for i in held) == ["a", "a", "b"]


def test_one_kind_of_ensemble():
    with pytest.raises(ValueError, match="one of --ensemble-seeds"):
        member_plans(0, ensemble_seeds=2, ensemble_folds=2, num_examples=9)
    with pytest.raises(ValueError, match="only 2 training"):
        member_plans(0, ensemble_folds=3, num_examples=2)


def test_flags():
    config, training, _ = parse_dataclasses(
        train_ner.PARSER_CLASSES,
        ["--ensemble-seeds", "5", "--augment", "mention_replacement",
         "--augment-copies", "2", "--augment-prob", "0.5", "--seed", "3"])
    assert (config.ensemble_seeds, config.augment, config.augment_copies,
            config.augment_prob, training.seed) == (
        5, "mention_replacement", 2, 0.5, 3)
    config, _, _ = parse_dataclasses(
        train_classifier.PARSER_CLASSES,
        ["--ensemble-folds", "4", "--augment", "eda"])
    assert (config.ensemble_folds, config.augment, config.augment_prob) == (
        4, "eda", 0.1)
