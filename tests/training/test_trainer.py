"""The shared training loop: accumulation, replicas, resume (issue 6)."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from tfllm.data.pipeline import encode_token_classification
from tfllm.training.callbacks import NonFiniteLossError
from tfllm.training.trainer import TrainingConfig
from tfllm.training.trainer import train
from tiny import NER_LABELS
from tiny import tiny_token_classifier

TESTS = pathlib.Path(__file__).resolve().parents[1]
WORDS = ["Zorbex", "hires", "Anna", "Kowalski", "in", "Lyon", ".", "again"]


def tiny_data(n=32, seed=0, max_words=6):
    rng = np.random.default_rng(seed)
    words = [list(rng.choice(WORDS, rng.integers(1, max_words)))
             for _ in range(n)]
    labels = [[int(rng.integers(0, len(NER_LABELS))) for _ in s]
              for s in words]
    return words, labels


def no_eval(model):
    """A score that improves every epoch, so the last epoch is the best."""
    return {"score": float(keras.ops.convert_to_numpy(
        model.optimizer.iterations))}, {}


def sum_loss():
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")


def run(tmp_path, name, **overrides):
    keras.utils.set_random_seed(0)
    model = tiny_token_classifier(seed=0)
    encoded = encode_token_classification(model.preprocessor, *tiny_data())
    config = TrainingConfig(**{"epochs": 2, "learning_rate": 1e-3,
                               "warmup_ratio": 0.0, **overrides})
    model, _ = train(model, encoded, config, tmp_path / name, no_eval,
                     "score", sum_loss())
    return model


def test_gradient_accumulation_equals_the_large_batch(tmp_path):
    # All windows fall in one length bucket, so batches of 4 taken two at
    # a time hold the same windows as batches of 8.
    large = run(tmp_path, "large", batch_size=8)
    accumulated = run(tmp_path, "accumulated", batch_size=4,
                      grad_accum_steps=2)
    assert int(large.optimizer.iterations) == 8
    assert int(accumulated.optimizer.iterations) == 8
    for a, b in zip(large.get_weights(), accumulated.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_loss_must_sum(tmp_path):
    model = tiny_token_classifier()
    encoded = encode_token_classification(model.preprocessor, *tiny_data(4))
    with pytest.raises(ValueError, match="reduction='sum'"):
        train(model, encoded, TrainingConfig(epochs=1), tmp_path, no_eval,
              "score", keras.losses.SparseCategoricalCrossentropy())


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    model = tiny_token_classifier()
    encoded = encode_token_classification(model.preprocessor, *tiny_data(16))
    # A huge learning rate makes the loss overflow within a few steps.
    config = TrainingConfig(epochs=50, batch_size=4, learning_rate=1e30,
                            warmup_ratio=0.0, max_grad_norm=None,
                            checkpoint_every_steps=1)
    with pytest.raises(NonFiniteLossError, match="last good checkpoint"):
        train(model, encoded, config, tmp_path, no_eval, "score", sum_loss())
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    checkpoint = keras.models.load_model(
        tmp_path / "checkpoint" / state["file"])
    assert all(np.isfinite(w).all() for w in checkpoint.get_weights())


MIRRORED = textwrap.dedent("""
    import json, sys, pathlib, tempfile
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, {tests!r})
    import keras
    from training.test_trainer import run
    weights = []
    for devices, overrides in {runs!r}:
        with tf.distribute.MirroredStrategy(devices).scope():
            model = run(pathlib.Path(tempfile.mkdtemp()), "run",
                        **overrides)
        weights.append(model.get_weights())
    print(json.dumps([max(float(np.abs(a - b).max())
                          for a, b in zip(weights[0], w))
                      for w in weights[1:]]))
""")


def mirrored(runs):
    """Trains `run()` per `(devices, overrides)` on 2 logical CPUs; returns
    the largest weight difference of each later run from the first."""
    out = subprocess.run(
        [sys.executable, "-c", MIRRORED.format(tests=str(TESTS), runs=runs)],
        capture_output=True, text=True, check=True, cwd=TESTS.parent).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_two_replicas_equal_one_device():
    (difference,) = mirrored([(["/cpu:0"], {"batch_size": 8}),
                              (["/cpu:0", "/cpu:1"], {"batch_size": 8})])
    assert difference < 1e-5


def test_accumulation_on_two_replicas_with_clipping_equals_the_large_batch():
    """2 replicas x micro-batch 2 x 2 accumulation steps, clipped to a
    small global norm, equal one device with batch 8 and the same clip;
    the unclipped run shows the clip was active."""
    clip = {"max_grad_norm": 0.05}
    same, unclipped = mirrored([
        (["/cpu:0"], {"batch_size": 8, **clip}),
        (["/cpu:0", "/cpu:1"], {"batch_size": 4, "grad_accum_steps": 2,
                                **clip}),
        (["/cpu:0"], {"batch_size": 8, "max_grad_norm": None}),
    ])
    assert same < 1e-5
    assert unclipped > 1e-3


KILLED = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    import tfllm.training.callbacks as callbacks
    from tfllm.cli import train_ner

    class Killed(callbacks.StepCheckpoint):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            if self.step == {kill_at}:
                os._exit(137)  # like SIGKILL: no cleanup

    import tfllm.training.trainer as trainer
    trainer.StepCheckpoint = Killed
    train_ner.main(sys.argv[1:])
""")


def test_killed_run_resumes_to_the_same_weights(tiny_preset, tmp_path):
    from tiny import write_conll
    words, labels = tiny_data(24, seed=1, max_words=8)
    folder = tmp_path / "data"
    folder.mkdir()
    write_conll(folder / "train.txt", [
        (w, [NER_LABELS[i] for i in l]) for w, l in zip(words, labels)])
    write_conll(folder / "valid.txt", [
        (w, [NER_LABELS[i] for i in l]) for w, l in zip(words[:4], labels)])
    common = ["--backbone", str(tiny_preset), "--data-dir", str(folder),
              "--epochs", "3", "--batch-size", "4", "--max-length", "8",
              "--checkpoint-every-steps", "4", "--no-export",
              "--output-dir", str(tmp_path / "runs")]
    env = dict(os.environ, PYTHONHASHSEED="0")

    def cli(run_name, kill_at=-1):
        return subprocess.run(
            [sys.executable, "-c",
             KILLED.format(tests=str(TESTS), kill_at=kill_at)]
            + common + ["--run-name", run_name],
            capture_output=True, text=True, env=env, cwd=TESTS.parent)

    assert cli("whole").returncode == 0
    killed = cli("killed", kill_at=10)  # after the step-8 checkpoint
    assert killed.returncode == 137
    state = json.loads((tmp_path / "runs" / "killed" / "checkpoint"
                        / "state.json").read_text())
    assert state["global_step"] == 8
    resumed = cli("killed")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming" in resumed.stdout
    whole = keras.models.load_model(tmp_path / "runs" / "whole" / "model.keras")
    again = keras.models.load_model(
        tmp_path / "runs" / "killed" / "model.keras")
    for a, b in zip(whole.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    lines = (tmp_path / "runs" / "killed" / "metrics.jsonl").read_text()
    assert [json.loads(l)["epoch"] for l in lines.splitlines()] == [1, 2, 3]


def test_resumed_with_more_epochs_keeps_training(tmp_path, capsys):
    """The checkpoint's schedule decays to 0 at the end of epoch 1; resumed
    with --epochs 2, the decay is stretched so epoch 2 trains (as Hugging
    Face's Trainer rebuilds the schedule from the new arguments)."""
    first = run(tmp_path, "r", epochs=1, batch_size=4)
    steps = int(first.optimizer.iterations)
    assert steps > 2
    after_one = [w.copy() for w in first.get_weights()]
    extended = run(tmp_path, "r", epochs=2, batch_size=4)
    assert "decay now ends at update" in capsys.readouterr().out
    schedule = extended.optimizer._learning_rate
    records = [json.loads(line) for line in
               (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert int(extended.optimizer.iterations) == schedule.total_steps == \
        2 * steps
    changed = [not np.allclose(a, b) for a, b in
               zip(after_one, extended.get_weights())]
    assert sum(changed) > len(changed) // 2
