"""Optimizers for fine-tuning."""

import keras
import tensorflow as tf

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
        `FusedAdamW` (a `keras.optimizers.AdamW`); variables whose name
        contains `bias`, `gamma` or `beta` (Dense biases, LayerNorm scale
        and offset) get no weight decay.
    """
    warmup_steps = int(round(warmup_ratio * total_steps))
    schedule = WarmupLinearDecay(
        learning_rate, min(warmup_steps, total_steps - 1), total_steps,
    )
    optimizer = FusedAdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        epsilon=1e-8,
        global_clipnorm=max_grad_norm or None,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer


@keras.saving.register_keras_serializable(package="tfllm")
class FusedAdamW(keras.optimizers.AdamW):
    """Keras' AdamW whose Adam update is one fused TensorFlow kernel.

    Keras' `Adam.update_step` updates each variable with about ten separate
    element-wise ops (moments, square root, division, assignment), each a
    pass over memory; for a BERT-sized model that is most of the optimizer's
    time on a CPU. `tf.raw_ops.ResourceApplyAdam` does the same update in
    one pass (Kingma & Ba 2015, Algorithm 1 with the "epsilon hat" form that
    Keras also uses): `m += (1 - beta_1) (g - m)`, `v += (1 - beta_2)
    (g^2 - v)`, `var -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m /
    (sqrt(v) + epsilon)`. Results equal Keras' `AdamW` up to float rounding.
    Decoupled weight decay (Loshchilov & Hutter 2019), its exclusions and
    gradient clipping stay Keras' own code.

    Falls back to Keras' update for sparse (`IndexedSlices`) gradients,
    `amsgrad=True` and backends other than TensorFlow. Arguments as
    `keras.optimizers.AdamW`.
    """

    def update_step(self, gradient, variable, learning_rate):
        if (self.amsgrad or isinstance(gradient, tf.IndexedSlices)
                or keras.backend.backend() != "tensorflow"):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype))
