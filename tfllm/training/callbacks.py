"""Callbacks of the training loop: evaluation, best epoch, resume, speed."""

import json
import math
import pathlib
import time

import keras
import tensorflow as tf

from tfllm.training.ema import ema_weights
from tfllm.utils.atomic import atomic_path

BEST_WEIGHTS = "best.weights.h5"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_STATE = "checkpoint/state.json"


def _write_json(path, data):
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(data, indent=2) + "\n")


class EpochEvaluation(keras.callbacks.Callback):
    """Evaluates after every epoch and keeps the best epoch's weights.

    At each epoch end it measures training throughput, calls `evaluate_fn`,
    adds `val_<name>` scalars to the epoch logs (so the TensorBoard callback,
    placed after this one, writes them), appends a line to `metrics.jsonl`
    and saves the best weights by `monitor` (higher is better, or lower
    with `mode="min"`). When the optimizer keeps an exponential moving
    average of the weights (`ema_decay`), evaluation and the saved best
    weights use the averaged weights (`tfllm.training.ema.ema_weights`);
    training then continues on the raw ones. With
    `patience`, training stops after that many epochs without improvement
    (early stopping); the trainer then restores the best weights.

    Args:
        run_dir: str or path. The run folder.
        evaluate_fn: callable `model -> (scalars, details)`: a dict of float
            scalars (must hold `monitor`) and a JSON-able dict written to
            `eval_epoch<N>.json`.
        monitor: str. The scalar that picks the best epoch.
        tokens_per_epoch: int. Non-padding training sub-tokens per epoch,
            for the tokens/s figure.
        patience: int. Epochs without improvement before stopping; 0 never
            stops early.
        mode: str. `"max"` (default): a higher `monitor` is better;
            `"min"`: a lower one (a loss or perplexity).
        unit: str. What `tokens_per_epoch` counts, for the printed
            throughput (`"tokens"`, or `"interactions"` for the
            recommender); the logged scalar keeps its name.

    Raises:
        ValueError: `mode` is neither `"max"` nor `"min"`.
    """

    def __init__(self, run_dir, evaluate_fn, monitor, tokens_per_epoch,
                 patience=0, mode="max", unit="tokens"):
        super().__init__()
        self.unit = unit
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.mode = mode
        self.run_dir = pathlib.Path(run_dir)
        self.evaluate_fn = evaluate_fn
        self.monitor = monitor
        self.tokens_per_epoch = tokens_per_epoch
        self.patience = patience
        self.best = None
        self.best_epoch = None
        self.history = []
        best_file = self.run_dir / "best.json"
        if best_file.is_file():  # resumed run
            best = json.loads(best_file.read_text())
            self.best, self.best_epoch = best[monitor], best["epoch"]

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def set_partial_epoch(self, fraction):
        """The next epoch runs only `fraction` of its steps (resumed run)."""
        self._partial = fraction

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        seconds = time.perf_counter() - self._start
        fraction = getattr(self, "_partial", 1.0)
        self._partial = 1.0
        logs["epoch_seconds"] = seconds
        logs["train_tokens_per_second"] = (
            self.tokens_per_epoch * fraction / seconds
        )
        logs["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        with ema_weights(self.model):
            self._evaluate(epoch, logs, seconds)

    def _evaluate(self, epoch, logs, seconds):
        start = time.perf_counter()
        scalars, details = self.evaluate_fn(self.model)
        eval_seconds = time.perf_counter() - start
        for name, value in scalars.items():
            logs[f"val_{name}"] = value
        record = {"epoch": epoch + 1, "eval_seconds": eval_seconds}
        record.update({k: float(v) for k, v in logs.items()})
        self.history.append(record)
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        _write_json(self.run_dir / f"eval_epoch{epoch + 1}.json", details)
        value = scalars[self.monitor]
        if self.best is None:
            better = True
        elif self.mode == "min":
            better = value < self.best
        else:
            better = value > self.best
        if better:
            self.best, self.best_epoch = value, epoch + 1
            with atomic_path(self.run_dir / BEST_WEIGHTS) as temp:
                self.model.save_weights(temp)
            _write_json(
                self.run_dir / "best.json",
                {"epoch": self.best_epoch, self.monitor: value},
            )
        print(
            f"epoch {epoch + 1}: validation {self.monitor} {value:.4f} "
            f"(best {self.best:.4f} at epoch {self.best_epoch}); "
            f"{logs['train_tokens_per_second']:.0f} training {self.unit}/s, "
            f"{seconds:.0f} s training, {eval_seconds:.0f} s evaluation"
        )
        if self.patience and epoch + 1 - self.best_epoch >= self.patience:
            print(f"early stopping: no improvement for {self.patience} epochs")
            self.model.stop_training = True


class NonFiniteLossError(FloatingPointError):
    """Training stopped because the loss became NaN or infinite."""


class StepCheckpoint(keras.callbacks.Callback):
    """Resumable checkpoints of model and optimizer every N steps.

    Each checkpoint is a `.keras` file (weights, optimizer variables with the
    step counter and the moments, dropout RNG state) written aside and
    renamed, then `checkpoint/state.json` is replaced to point at it, so a
    run killed at any moment leaves a complete checkpoint. The last `keep`
    files are kept. A step whose loss is not finite stops training, and no
    checkpoint is written from then on: the last good one stays.

    Args:
        run_dir: str or path.
        every_steps: int. Checkpoint period in training steps (batches);
            every epoch end is a checkpoint too.
        keep: int. Checkpoint files kept.
        initial_step: int. Global step at the start (resumed run).
    """

    def __init__(self, run_dir, every_steps, keep=2, initial_step=0):
        super().__init__()
        self.folder = pathlib.Path(run_dir) / CHECKPOINT_DIR
        self.every_steps = every_steps
        self.keep = max(1, keep)
        self.step = initial_step
        self.epochs_done = 0
        self.failure = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs_done = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failure = (
                f"loss is {float(loss)} at step {self.step}; training stopped"
                f" and the last good checkpoint in {self.folder} was kept"
            )
            self.model.stop_training = True
            return
        if self.every_steps and self.step % self.every_steps == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done = epoch + 1
        if self.failure is None:
            self.save()

    def save(self):
        name = f"step-{self.step:09d}.keras"
        with atomic_path(self.folder / name) as temp:
            self.model.save(temp)
        _write_json(
            self.folder / "state.json",
            {"global_step": self.step, "epochs_done": self.epochs_done,
             "file": name},
        )
        for old in sorted(self.folder.glob("step-*.keras"))[:-self.keep]:
            old.unlink()


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, with epoch scalars that are never lost.

    With an integer `update_freq`, Keras 3.15 writes epoch-level scalars
    inside the batch-level `record_if(step % update_freq == 0)` context, so
    they are dropped unless the epoch ends on such a step: a run with 444
    steps per epoch and `update_freq=50` logged no `epoch_*` scalar at all.
    This subclass records them unconditionally; everything else is Keras'.
    """

    def _log_epoch_metrics(self, epoch, logs):
        with tf.summary.record_if(True):
            super()._log_epoch_metrics(epoch, logs)


def resume_state(run_dir):
    """Returns `(model, global_step)` from a run folder's last checkpoint.

    Args:
        run_dir: str or path.

    Returns:
        `(keras.Model, int)` with the optimizer state (step, moments) and
        dropout RNG restored, or `(None, 0)` when there is no checkpoint.

    Raises:
        ValueError: the checkpoint exists but cannot be read (missing file,
            corrupt); the message names the file and how to start afresh.
    """
    run_dir = pathlib.Path(run_dir)
    state_file = run_dir / CHECKPOINT_STATE
    if not state_file.is_file():
        return None, 0
    try:
        state = json.loads(state_file.read_text())
        checkpoint = state_file.parent / state["file"]
        model = keras.models.load_model(checkpoint)
    except Exception as e:
        raise ValueError(
            f"{state_file}: cannot resume from this checkpoint ({e}); "
            "delete the run folder or pass another --run-name to start afresh"
        ) from e
    return model, int(state["global_step"])
