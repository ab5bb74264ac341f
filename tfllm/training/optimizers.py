"""Optimizers for fine-tuning."""

import re

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
    learning_rate_multipliers=None,
    ema_decay=0.0,
):
    """AdamW with linear warmup and decay, decoupled weight decay, clipping.

    Args:
        learning_rate: float. Peak learning rate.
        total_steps: int. Optimizer updates in the whole run.
        warmup_ratio: float in [0, 1). Fraction of updates spent warming up.
        weight_decay: float. Decoupled weight decay coefficient.
        max_grad_norm: float or None. Global gradient-norm clip; 0 or None
            turns clipping off.
        learning_rate_multipliers: dict or None. Regular expression on
            variable paths -> factor on the scheduled learning rate; see
            `FusedAdamW` and `head_learning_rate_multipliers`.
        ema_decay: float in [0, 1). With a value > 0, the optimizer keeps
            an exponential moving average of the weights with this decay
            (Keras' `use_ema`, `ema_momentum`; see `tfllm.training.ema`).
            Default 0: none.

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
        learning_rate_multipliers=learning_rate_multipliers,
        use_ema=ema_decay > 0,
        ema_momentum=ema_decay if ema_decay > 0 else 0.99,
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
    `amsgrad=True` and backends other than TensorFlow.

    Per-variable learning rates: `learning_rate_multipliers` maps regular
    expressions to factors; a variable whose path (`classifier_head/kernel`,
    `crf/transitions`, ...) matches a pattern (`re.search`; the first in
    order wins) has its learning rate, and so its decoupled weight decay,
    multiplied by the factor, as a PyTorch parameter group with its own
    `lr` would. This is how a new head trains faster than a pre-trained
    encoder (the CLUENER BERT-CRF baselines: 3e-5 for BERT, ~1e-3 to 2e-3
    for the CRF and head); scaling the gradients instead would do nothing,
    since Adam's update does not depend on the gradient's scale. Layer-wise
    learning-rate decay is the same mechanism with one pattern per layer.

    Weight average: with `use_ema`, the moving average is Keras' own, but
    `finalize_variable_values` (which `model.fit` calls when it returns)
    leaves the raw weights in the model instead of overwriting them with
    the average: tfllm's trainer may call `fit` again on the same model
    (a resumed run finishing its interrupted epoch) and must continue
    from the raw weights; it swaps the average in for evaluation and for
    the best-epoch weights (`tfllm.training.ema`).

    Args:
        learning_rate_multipliers: dict str -> float, or None. Saved in
            `get_config`, so a resumed training checkpoint keeps it.
        **kwargs: `keras.optimizers.AdamW` arguments.

    Raises:
        ValueError: a pattern is not a regular expression or a factor is
            not positive.
    """

    def __init__(self, *args, learning_rate_multipliers=None, **kwargs):
        super().__init__(*args, **kwargs)
        multipliers = dict(learning_rate_multipliers or {})
        for pattern, factor in multipliers.items():
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(
                    f"learning_rate_multipliers: bad pattern {pattern!r}: "
                    f"{e}") from e
            if not float(factor) > 0:
                raise ValueError(
                    f"learning_rate_multipliers: factor of {pattern!r} must "
                    f"be positive, got {factor}")
        self.learning_rate_multipliers = {
            p: float(f) for p, f in multipliers.items()}
        self._learning_rate_factors = []

    def learning_rate_factor(self, path):
        """The factor of a variable path: the first match's, else 1."""
        for pattern, factor in self.learning_rate_multipliers.items():
            if re.search(pattern, path):
                return factor
        return 1.0

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # By variable index, as the moments: update_step and weight decay
        # see TensorFlow variables, which have no Keras path.
        self._learning_rate_factors = [
            self.learning_rate_factor(v.path) for v in var_list]

    def _factor(self, variable):
        if not self.learning_rate_multipliers:
            return 1.0
        return self._learning_rate_factors[self._get_variable_index(variable)]

    def _apply_weight_decay(self, variables):
        if self.weight_decay is None or not self.learning_rate_multipliers:
            return super()._apply_weight_decay(variables)

        # Keras' TensorFlow AdamW decay, with each variable's factor.
        def decay(variable):
            if self._use_weight_decay(variable):
                lr = tf.cast(self.learning_rate, variable.dtype)
                wd = tf.cast(self.weight_decay, variable.dtype)
                variable.assign_sub(variable * wd * lr
                                    * self._factor(variable))

        def apply(distribution, variables):
            for variable in variables:
                if isinstance(variable, keras.Variable):
                    variable = variable.value
                distribution.extended.update(variable, decay, group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            apply, self._distribution_strategy, variables)

    def update_step(self, gradient, variable, learning_rate):
        factor = self._factor(variable)
        if factor != 1.0:
            learning_rate = learning_rate * factor
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

    def finalize_variable_values(self, var_list):
        """Keeps the raw weights at the end of `fit` (see the class)."""

    def get_config(self):
        config = super().get_config()
        config["learning_rate_multipliers"] = dict(
            self.learning_rate_multipliers)
        return config


def head_learning_rate_multipliers(model, factor):
    """Multipliers that give a task's own layers `factor` times the rate.

    The task's layers are those outside its backbone (a `TokenClassifier`'s
    `classifier_head`, `casing_embedding`, `lexicon_embedding` and `crf`),
    found as the trainable variables that `model.backbone` does not hold.

    Args:
        model: a task model with a `backbone`.
        factor: float. Head learning rate / backbone learning rate.

    Returns:
        dict `"^<layer>/" -> factor`, one entry per head layer, for
        `make_adamw(learning_rate_multipliers=...)`.

    Raises:
        ValueError: the model has no backbone, or no trainable variables
            outside it.
    """
    backbone = getattr(model, "backbone", None)
    if backbone is None or backbone is model:
        raise ValueError(f"{type(model).__name__} has no backbone: a head "
                         "learning rate needs a task model")
    inside = {id(v) for v in backbone.trainable_variables}
    layers = []
    for variable in model.trainable_variables:
        if id(variable) not in inside:
            layer = variable.path.rsplit("/", 1)[0]
            if layer not in layers:
                layers.append(layer)
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no trainable variables outside its "
            "backbone: a head learning rate would apply to nothing")
    return {"^" + re.escape(layer) + "/": float(factor) for layer in layers}
