"""Progress lines inside an epoch and the short-run warning (issue 27)."""

import re
import warnings

import keras
import numpy as np

from tfllm.data.pipeline import encode_token_classification
from tfllm.data.pipeline import steps_per_epoch
from tfllm.training.progress import StepProgress
from tfllm.training.progress import format_duration
from tfllm.training.progress import format_progress
from tfllm.training.trainer import TrainingConfig
from tfllm.training.trainer import train
from tfllm.training.trainer import warn_if_short
from tiny import NER_LABELS
from tiny import tiny_token_classifier

WORDS = ["Zorbex", "hires", "Anna", "Kowalski", "in", "Lyon", ".", "again"]


def tiny_data(n=32, seed=0, max_words=6):
    rng = np.random.default_rng(seed)
    words = [list(rng.choice(WORDS, rng.integers(1, max_words)))
             for _ in range(n)]
    labels = [[int(rng.integers(0, len(NER_LABELS))) for _ in s]
              for s in words]
    return words, labels


def no_eval(model):
    return {"score": 1.0}, {}


def sum_loss():
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")


def test_format_progress_with_fixed_numbers():
    line = format_progress(1, 3, 120, 444, 0.43121, 5230.4, 62.4, 167.0)
    assert line == ("epoch 1/3 step 120/444 (27%) loss 0.4312 "
                    "5,230 tokens/s elapsed 0:01:02 ETA 0:02:47")
    assert format_progress(2, 2, 1, 4, None, None, 0, 3) == (
        "epoch 2/2 step 1/4 (25%) elapsed 0:00:00 ETA 0:00:03")
    assert format_duration(3 * 3600 + 61.6) == "3:01:02"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _drive(progress, clock, steps, seconds_per_step, capsys):
    progress.on_epoch_begin(0)
    for step in range(steps):
        clock.now += seconds_per_step
        progress.on_train_batch_end(step, {"loss": 1.0 / (step + 1)})
    progress.on_epoch_end(0)
    return capsys.readouterr().out.splitlines()


def test_automatic_period_tenths_of_a_fast_epoch(capsys):
    clock = FakeClock()
    progress = StepProgress(100, 1, tokens_per_epoch=10_000, clock=clock)
    lines = _drive(progress, clock, 100, 0.5, capsys)
    # Every tenth (10 steps = 5 s < 30 s), not after the last step (Keras'
    # epoch line follows).
    steps = [int(re.search(r"step (\d+)/100", l).group(1)) for l in lines]
    assert steps == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    # 10 steps of 100 tokens in 5 s; 90 steps left at 0.5 s.
    assert lines[0] == ("epoch 1/1 step 10/100 (10%) loss 0.1000 "
                        "200 tokens/s elapsed 0:00:05 ETA 0:00:45")


def test_automatic_period_every_30_seconds_of_a_slow_epoch(capsys):
    clock = FakeClock()
    progress = StepProgress(1000, 2, clock=clock)
    lines = _drive(progress, clock, 50, 10.0, capsys)
    steps = [int(re.search(r"step (\d+)/1000", l).group(1)) for l in lines]
    assert steps == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42,
                     45, 48]


def test_speed_leaves_out_the_first_step(capsys):
    """The first step also compiles: 20 s, then 1 s per step."""
    clock = FakeClock()
    progress = StepProgress(10, 1, tokens_per_epoch=1000, every_steps=5,
                            clock=clock)
    progress.on_epoch_begin(0)
    for step, seconds in enumerate([20.0] + [1.0] * 9):
        clock.now += seconds
        progress.on_train_batch_end(step, {"loss": 0.5})
    [line] = capsys.readouterr().out.splitlines()
    assert line == ("epoch 1/1 step 5/10 (50%) loss 0.5000 100 tokens/s "
                    "elapsed 0:00:24 ETA 0:00:05")


def test_every_steps(capsys):
    clock = FakeClock()
    progress = StepProgress(10, 1, every_steps=4, clock=clock)
    lines = _drive(progress, clock, 10, 100.0, capsys)
    assert [l.split()[3] for l in lines] == ["4/10", "8/10"]


def test_fit_prints_progress_when_redirected(tmp_path, capsys):
    """A tiny model's run with stdout captured (not a terminal): progress
    lines at the configured steps, with tokens/s and ETA, and no Keras
    shuffle warning."""
    keras.utils.set_random_seed(0)
    model = tiny_token_classifier(seed=0)
    encoded = encode_token_classification(model.preprocessor, *tiny_data())
    config = TrainingConfig(epochs=1, batch_size=4, learning_rate=1e-3,
                            warmup_ratio=0.0, log_every_steps=3)
    steps = steps_per_epoch(encoded, 4, model.preprocessor.sequence_length)
    assert steps >= 7
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(model, encoded, config, tmp_path, no_eval, "score", sum_loss())
    assert not [w for w in caught if "shuffle" in str(w.message)]
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if l.startswith("epoch 1/1 step")]
    expected = list(range(3, steps, 3))
    assert [int(l.split()[3].split("/")[0]) for l in lines] == expected
    assert all(f"/{steps} " in l for l in lines)
    assert all(re.search(r"loss \d+\.\d{4} [\d,]+ tokens/s elapsed "
                         r"\d:\d\d:\d\d ETA \d:\d\d:\d\d$", l) for l in lines)


def test_short_run_warns_with_numbers_and_fix(capsys):
    config = TrainingConfig(epochs=1, batch_size=32)
    assert warn_if_short(12, 12, config)
    err = capsys.readouterr().err
    assert err.startswith("tfllm WARNING: this run makes only 12 optimizer "
                          "updates (12 per epoch x 1 epochs, 32 sequences "
                          "per update); warmup takes 1 of them")
    assert "--warmup-ratio" in err and "--batch-size" in err
    assert not warn_if_short(100, 50, TrainingConfig(epochs=2))
    assert capsys.readouterr().err == ""
    # A warmup that takes every update never reaches the peak.
    assert warn_if_short(500, 500, TrainingConfig(warmup_ratio=1.0))


def test_short_run_with_zero_score_ends_with_a_hint(tmp_path, capsys):
    model = tiny_token_classifier(seed=0)
    encoded = encode_token_classification(model.preprocessor,
                                          *tiny_data(8))
    config = TrainingConfig(epochs=1, batch_size=4)

    def zero_f1(model):
        return {"entity_f1": 0.0}, {}

    train(model, encoded, config, tmp_path, zero_f1, "entity_f1", sum_loss())
    err = capsys.readouterr().err
    assert "this run makes only 2 optimizer updates" in err
    assert ("validation entity_f1 is 0 after only 2 optimizer updates: the "
            "run was too short") in err
