"""Callbacks of the training loop: evaluation, best epoch, resume, speed."""

import json
import pathlib
import time

import keras
import tensorflow as tf

from tfllm.utils.atomic import atomic_path

BEST_WEIGHTS = "best.weights.h5"
LAST_CHECKPOINT = "checkpoint/last.keras"
TRAINING_STATE = "checkpoint/state.json"


def _write_json(path, data):
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(data, indent=2) + "\n")


class EpochEvaluation(keras.callbacks.Callback):
    """Evaluates after every epoch, keeps the best epoch, writes checkpoints.

    At each epoch end it measures training throughput, calls `evaluate_fn`,
    adds `val_<name>` scalars to the epoch logs (so Keras' TensorBoard
    callback, placed after this one, writes them), appends a line to
    `metrics.jsonl`, saves the best weights by `monitor` (higher is better)
    and a resumable checkpoint of model and optimizer. At train end the best
    weights are restored.

    Args:
        run_dir: str or path. The run folder.
        evaluate_fn: callable `model -> (scalars, details)`: a dict of float
            scalars (must hold `monitor`) and a JSON-able dict written to
            `eval_epoch<N>.json`.
        monitor: str. The scalar that picks the best epoch.
        tokens_per_epoch: int. Non-padding training sub-tokens per epoch,
            for the tokens/s figure.
    """

    def __init__(self, run_dir, evaluate_fn, monitor, tokens_per_epoch):
        super().__init__()
        self.run_dir = pathlib.Path(run_dir)
        self.evaluate_fn = evaluate_fn
        self.monitor = monitor
        self.tokens_per_epoch = tokens_per_epoch
        self.best = None
        self.best_epoch = None
        self.history = []

    def on_train_begin(self, logs=None):
        best_file = self.run_dir / "best.json"
        if best_file.is_file():  # resumed run
            best = json.loads(best_file.read_text())
            self.best, self.best_epoch = best[self.monitor], best["epoch"]

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        seconds = time.perf_counter() - self._start
        optimizer = self.model.optimizer
        logs["epoch_seconds"] = seconds
        logs["train_tokens_per_second"] = self.tokens_per_epoch / seconds
        logs["learning_rate"] = float(
            keras.ops.convert_to_numpy(optimizer.learning_rate)
        )
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
        if self.best is None or value > self.best:
            self.best, self.best_epoch = value, epoch + 1
            with atomic_path(self.run_dir / BEST_WEIGHTS) as temp:
                self.model.save_weights(temp)
            _write_json(
                self.run_dir / "best.json",
                {"epoch": self.best_epoch, self.monitor: value},
            )
        with atomic_path(self.run_dir / LAST_CHECKPOINT) as temp:
            self.model.save(temp)
        _write_json(self.run_dir / TRAINING_STATE, {"epochs_done": epoch + 1})
        print(
            f"epoch {epoch + 1}: validation {self.monitor} {value:.4f} "
            f"(best {self.best:.4f} at epoch {self.best_epoch}); "
            f"{logs['train_tokens_per_second']:.0f} training tokens/s, "
            f"{seconds:.0f} s training, {eval_seconds:.0f} s evaluation"
        )

    def on_train_end(self, logs=None):
        best = self.run_dir / BEST_WEIGHTS
        if best.is_file():
            self.model.load_weights(best)


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
    """Returns `(model, epochs_done)` from a run folder's last checkpoint.

    Args:
        run_dir: str or path.

    Returns:
        `(keras.Model, int)` with the optimizer state restored, or
        `(None, 0)` when the folder holds no checkpoint.

    Raises:
        ValueError: the checkpoint exists but cannot be read (corrupt); the
            message names the file and how to start afresh.
    """
    run_dir = pathlib.Path(run_dir)
    state = run_dir / TRAINING_STATE
    checkpoint = run_dir / LAST_CHECKPOINT
    if not (state.is_file() and checkpoint.is_file()):
        return None, 0
    try:
        epochs_done = json.loads(state.read_text())["epochs_done"]
        model = keras.models.load_model(checkpoint)
    except Exception as e:
        raise ValueError(
            f"{checkpoint}: cannot resume from this checkpoint ({e}); "
            "delete the run folder or pass another --run-name to start afresh"
        ) from e
    return model, int(epochs_done)
