"""Optimizers for fine-tuning."""

import keras

from tfllm.training.schedules import WarmupLinearDecay

# Variables without weight decay (Loshchilov & Hutter 2019; BERT's
# AdamWeightDecayOptimizer): biases and LayerNorm scale/offset.
NO_DECAY_NAMES = ("bias", "gamma", "beta")


def make_adamw(
    learning_rate,
    total_steps,
    warmup_ratio=0.1,
    weight_decay=0.01,
    max_grad_norm=1.0,
):
    """AdamW with linear warmup and decay, decoupled weight decay, clipping.

    Args:
        learning_rate: float. Peak learning rate.
        total_steps: int. Optimizer updates in the whole run.
        warmup_ratio: float in [0, 1). Fraction of updates spent warming up.
        weight_decay: float. Decoupled weight decay coefficient.
        max_grad_norm: float or None. Global gradient-norm clip; 0 or None
            turns clipping off.

    Returns:
        `keras.optimizers.AdamW`; variables whose name contains `bias`,
        `gamma` or `beta` (Dense biases, LayerNorm scale and offset) get no
        weight decay.
    """
    warmup_steps = int(round(warmup_ratio * total_steps))
    schedule = WarmupLinearDecay(
        learning_rate, min(warmup_steps, total_steps - 1), total_steps,
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        epsilon=1e-8,
        global_clipnorm=max_grad_norm or None,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer
