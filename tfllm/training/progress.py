"""Progress inside an epoch when the output is not a terminal.

On a terminal (or in Jupyter) Keras' own progress bar (`verbose=1`) shows
every step. Redirected to a file or a pipe, that bar would write a line per
update, so `fit` runs with `verbose=2` (one line per epoch) and
`StepProgress` adds a line every few steps:

    epoch 1/3 step 120/444 (27%) loss 0.4312 5,230 tokens/s elapsed 0:01:02 ETA 0:02:47
"""

import math
import sys
import time

import keras


def keras_verbosity(stream=None):
    """Keras `fit` verbosity for this output: 1 on a terminal or Jupyter, 2
    otherwise (`2` prints one line per epoch instead of a bar redrawn at
    every step).

    Args:
        stream: file object or None (`sys.stdout`).
    """
    stream = sys.stdout if stream is None else stream
    if "ipykernel" in sys.modules:
        return 1
    try:
        return 1 if stream.isatty() else 2
    except (AttributeError, ValueError):
        return 2


def format_duration(seconds):
    """`H:MM:SS` for a number of seconds (rounded, negative as 0)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def format_progress(epoch, epochs, step, steps, loss, tokens_per_second,
                    elapsed, eta, unit="tokens"):
    """One progress line.

    Args:
        epoch: int. 1-based epoch.
        epochs: int. Epochs of the run.
        step: int. Steps done in this epoch (1-based count).
        steps: int. Steps of this epoch.
        loss: float or None. The epoch's running mean loss.
        tokens_per_second: float or None. Training sub-tokens per second.
        elapsed: float. Seconds since the epoch began.
        eta: float. Estimated seconds left in the epoch.
        unit: str. What `tokens_per_second` counts (`"tokens"`; the
            recommender counts `"interactions"`).

    Returns:
        str, e.g. `epoch 1/3 step 120/444 (27%) loss 0.4312 5,230 tokens/s
        elapsed 0:01:02 ETA 0:02:47`.
    """
    parts = [f"epoch {epoch}/{epochs} step {step}/{steps} "
             f"({100 * step / max(steps, 1):.0f}%)"]
    if loss is not None:
        parts.append(f"loss {loss:.4f}")
    if tokens_per_second is not None:
        parts.append(f"{tokens_per_second:,.0f} {unit}/s")
    parts.append(f"elapsed {format_duration(elapsed)}")
    parts.append(f"ETA {format_duration(eta)}")
    return " ".join(parts)


class StepProgress(keras.callbacks.Callback):
    """Prints a progress line every `every_steps` steps, or about every
    `every_seconds` seconds and at each tenth of the epoch when
    `every_steps` is 0.

    Lines go to stdout (where Keras prints its epoch lines). Speed is the
    mean time per step after the first (which also traces and compiles the
    step, as Keras' progress bar estimates it): tokens per second are the
    non-padding training sub-tokens of a step (`tokens_per_epoch / steps`,
    the estimate of `tfllm.training.callbacks.EpochEvaluation`) over it,
    and the ETA assumes the remaining steps run at that speed.

    Args:
        steps: int. Steps per epoch.
        epochs: int. Epochs of the run.
        tokens_per_epoch: int or None. Training sub-tokens per epoch.
        every_steps: int. A line every N steps; 0 (default): automatic.
        every_seconds: float. Automatic mode's time between lines.
        stream: file object or None (`sys.stdout` at print time).
        clock: callable returning seconds (tests pass a fake clock).
    """

    def __init__(self, steps, epochs, tokens_per_epoch=None, every_steps=0,
                 every_seconds=30.0, stream=None, clock=time.perf_counter,
                 unit="tokens"):
        super().__init__()
        self.unit = unit
        self.steps = max(1, int(steps))
        self.epochs = epochs
        self.tokens_per_epoch = tokens_per_epoch
        self.every_steps = max(0, int(every_steps or 0))
        self.every_seconds = every_seconds
        self.stream = stream
        self.clock = clock
        self._tenth = max(1, math.ceil(self.steps / 10))
        self.set_steps(self.steps)

    def set_steps(self, steps):
        """Steps of the next epoch (a resumed run's shorter first epoch)."""
        self._epoch_steps = max(1, int(steps))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = self._last = self.clock()
        self._first = None  # time at the end of the first step
        self._step = 0

    def _due(self, now):
        step = self._step
        if step >= self._epoch_steps:
            return False  # Keras' epoch line follows
        if self.every_steps:
            return step % self.every_steps == 0
        return (step % self._tenth == 0
                or now - self._last >= self.every_seconds)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        now = self.clock()
        if self._first is None:
            self._first = now
        if not self._due(now):
            return
        self._last = now
        elapsed = now - self._start
        step = self._step
        loss = (logs or {}).get("loss")
        loss = None if loss is None else float(loss)
        if step > 1:
            per_step = (now - self._first) / (step - 1)
        else:
            per_step = elapsed
        rate = None
        if self.tokens_per_epoch and per_step > 0:
            rate = self.tokens_per_epoch / self.steps / per_step
        eta = per_step * (self._epoch_steps - step)
        line = format_progress(
            self._epoch + 1, self.epochs, step, self._epoch_steps, loss,
            rate, elapsed, eta, self.unit)
        print(line, file=self.stream or sys.stdout, flush=True)

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_steps = self.steps
