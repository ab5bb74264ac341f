"""Learning-rate schedules."""

import keras


@keras.saving.register_keras_serializable(package="tfllm")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to a peak, then linear decay to zero.

    Defined on the 1-indexed update number `u = step + 1`, where `step` is
    Keras' `optimizer.iterations` (0 before the first update), so the first
    update already has a positive rate and the peak falls exactly on update
    `warmup_steps` (the off-by-one of google-research/bert#1293 gives the
    first update a rate of 0):

        lr(u) = peak * u / W                for u <= W
        lr(u) = peak * (T - u) / (T - W)    for W < u <= T, and 0 after.

    This is the schedule of Devlin et al. (2019) and Hugging Face's
    `get_linear_schedule_with_warmup`, shifted to be positive at update 1.

    An optimizer built with Keras' own `gradient_accumulation_steps` calls
    the schedule with its micro-batch counter (`optimizer._iterations`),
    not the update count; `steps_per_update` converts it:
    `u = step // steps_per_update + 1`. tfllm's trainer accumulates inside
    the train step instead (`tfllm.training.steps`) and leaves it at 1; it
    stays for such optimizers and for schedules saved by older runs.

    Args:
        peak_learning_rate: float. The rate at the end of warmup.
        warmup_steps: int. `W`, updates of warmup (0 for none).
        total_steps: int. `T`, updates in the whole run; must exceed
            `warmup_steps`.
        steps_per_update: int. Micro-batches per optimizer update (the
            optimizer's `gradient_accumulation_steps`); default 1.

    Raises:
        ValueError: `total_steps <= warmup_steps` or a negative count.
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps,
                 steps_per_update=1):
        if warmup_steps < 0 or total_steps <= warmup_steps:
            raise ValueError(
                "need 0 <= warmup_steps < total_steps, got "
                f"warmup_steps={warmup_steps}, total_steps={total_steps}"
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.steps_per_update = int(steps_per_update)

    def __call__(self, step):
        update = keras.ops.floor_divide(
            keras.ops.cast(step, "float32"), self.steps_per_update
        ) + 1.0
        peak = self.peak_learning_rate
        warmup = peak * update / max(self.warmup_steps, 1)
        decay = peak * (self.total_steps - update) / (
            self.total_steps - self.warmup_steps
        )
        rate = keras.ops.where(update <= self.warmup_steps, warmup, decay)
        return keras.ops.maximum(rate, 0.0)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "steps_per_update": self.steps_per_update,
        }
