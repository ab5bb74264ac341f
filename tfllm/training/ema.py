"""An exponential moving average (EMA) of the weights, for evaluation.

Polyak & Juditsky (1992), "Acceleration of Stochastic Approximation by
Averaging"; the decayed form used in fine-tuning keeps, after every
optimizer update, `average = decay * average + (1 - decay) * weights`.
The average is Keras' own (`keras.optimizers.Optimizer(use_ema=True,
ema_momentum=decay)`): the optimizer holds one average per trainable
variable, updates it in `apply` (skipped steps of a loss-scale optimizer
leave it unchanged), and saves it with its other variables, so a
resumable checkpoint holds both the raw and the averaged weights. Keras
starts the average at the weights after the first update, so after `n`
updates with weights `w_1 .. w_n`:
`average_n = decay^(n-1) w_1 + (1 - decay) sum_{k=2..n} decay^(n-k) w_k`.

Training continues on the raw weights; `tfllm.training.train` evaluates
every epoch, and saves the best epoch, with the averaged weights swapped
in (`ema_weights`). The cost is one extra copy of the trainable weights
in memory and one multiply-add per weight and update.
"""

import contextlib

import numpy as np


def ema_optimizer(model):
    """The model's optimizer that keeps an EMA, or None.

    Args:
        model: a compiled `keras.Model` (a `LossScaleOptimizer` is looked
            through).

    Returns:
        The `keras.optimizers.Optimizer` with `use_ema` set and its
        averages built, or None.
    """
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if (optimizer is None or not getattr(optimizer, "use_ema", False)
            or not getattr(optimizer, "built", False)):
        return None
    return optimizer


def ema_values(model):
    """The averaged weights of the model's trainable variables.

    Args:
        model: a compiled model whose optimizer keeps an EMA.

    Returns:
        dict variable path -> numpy array, for every variable the
        optimizer updates.

    Raises:
        ValueError: the optimizer keeps no EMA (`ema_decay` 0).
    """
    optimizer = ema_optimizer(model)
    if optimizer is None:
        raise ValueError("the model's optimizer keeps no weight average; "
                         "train with ema_decay > 0 (--ema-decay)")
    return {v.path: np.array(a) for v, a in zip(
        optimizer._trainable_variables,
        optimizer._model_variables_moving_average) if a is not None}


@contextlib.contextmanager
def ema_weights(model):
    """Within the block the model holds its EMA weights, then its own.

    A no-op when the optimizer keeps no average. The raw weights are
    copied before and assigned back after the block, so they come back
    bit for bit, also when the block raises.

    Args:
        model: a compiled `keras.Model`.

    Yields:
        bool. Whether the EMA weights are in the model.
    """
    optimizer = ema_optimizer(model)
    if optimizer is None:
        yield False
        return
    variables = optimizer._trainable_variables
    raw = [np.array(v) for v in variables]
    optimizer._overwrite_model_variables_with_average_value(variables)
    try:
        yield True
    finally:
        for variable, value in zip(variables, raw):
            variable.assign(value)
