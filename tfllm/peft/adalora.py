"""AdaLoRA: LoRA whose rank budget moves to the layers that matter.

Zhang et al. (2023), "Adaptive Budget Allocation for Parameter-Efficient
Fine-Tuning" (ICLR). Each targeted weight gets an update in SVD form
`ΔW = P·diag(λ)·Q · (lora_alpha / init_r)` with `P` `[in, r]`, `λ` `[r]`
(zeros at start, so the model is unchanged) and `Q` `[r, out]`. Training
adds `orth_reg_weight` times the mean of `‖PᵀP − I‖_F` and `‖QQᵀ − I‖_F`
to the loss.

Every step, for each entry `w` of `P`, `λ`, `Q`, the sensitivity
`I = |w·∇w|` is smoothed, `Ī ← β1·Ī + (1 − β1)·I`, and its uncertainty
`Ū ← β2·Ū + (1 − β2)·|I − Ī|` (Eq. 8-9); the score is `Ī·Ū`. A singular
value's importance is its own score plus the mean scores of its column of
`P` and row of `Q` (Eq. 10). The total budget (the number of singular
values kept in the whole model) follows `budget_schedule`: the initial
budget for `tinit` steps, a cubic decrease to the target, the target for
the last `tfinal` steps. Every `deltaT` steps the least important
singular values beyond the budget are set to zero (they may grow back
until the final phase fixes the pattern). Names and defaults follow
Hugging Face PEFT (`AdaLoraConfig`, `RankAllocator`).
"""

import dataclasses
import json
import pathlib
from typing import Optional
from typing import Sequence
from typing import Union

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfllm.peft import base
from tfllm.peft.lora import LoraLayer
from tfllm.peft.lora import contract
from tfllm.peft.lora import wrap_linear_layers


@dataclasses.dataclass
class AdaLoraConfig(base.PeftConfig):
    """Settings of AdaLoRA (names and defaults as in Hugging Face PEFT).

    Attributes:
        init_r: int. Rank of every update at the start. Defaults to 12.
        target_r: int. Mean rank per update at the end: the final budget
            is `target_r` times the number of updated layers. Defaults to 8.
        lora_alpha: float. Scale numerator (`lora_alpha / init_r`).
        lora_dropout: float. Dropout on the update branch's input.
        tinit: int. Steps at the initial budget. Defaults to 0.
        tfinal: int. Final steps at the target budget with the pattern
            fixed. Defaults to 0.
        deltaT: int. Steps between two budget allocations. Defaults to 1.
        beta1, beta2: float. EMA factors of sensitivity and uncertainty.
        orth_reg_weight: float. Weight of the orthogonality regulariser.
        total_step: int or None. Optimizer updates of the run; None: set by
            `tfllm.training.train` from the run's length.
        target_modules, modules_to_save: as in `LoraConfig`.
    """

    method = "adalora"

    init_r: int = 12
    target_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    tinit: int = 0
    tfinal: int = 0
    deltaT: int = 1
    beta1: float = 0.85
    beta2: float = 0.85
    orth_reg_weight: float = 0.5
    total_step: Optional[int] = None
    target_modules: Union[str, Sequence[str]] = ("query", "value")
    modules_to_save: Optional[Sequence[str]] = None

    def __post_init__(self):
        if not 1 <= self.target_r <= self.init_r:
            raise ValueError(f"need 1 <= target_r <= init_r, got "
                             f"{self.target_r}, {self.init_r}")


def budget_schedule(step, init_budget, target_budget, tinit, tfinal,
                    total_step, deltaT):
    """The total rank budget at `step` and whether to prune now.

    PEFT's `RankAllocator.budget_schedule` (Zhang et al. 2023, Eq. 12):
    `init_budget` up to `tinit`; then
    `target + (init − target)·(1 − (step − tinit)/(total − tfinal −
    tinit))³`, truncated to an integer, pruning every `deltaT` steps;
    `target_budget` after `total_step − tfinal`, pruning every step.

    Args:
        step: int. Optimizer updates done.
        init_budget, target_budget: int. Singular values kept in the model.
        tinit, tfinal, total_step, deltaT: int, see `AdaLoraConfig`.

    Returns:
        `(budget, prune)`: int and bool.

    Raises:
        ValueError: `total_step <= tinit + tfinal`.
    """
    if total_step <= tinit + tfinal:
        raise ValueError(f"total_step {total_step} must exceed tinit + "
                         f"tfinal = {tinit + tfinal}")
    if step <= tinit:
        return init_budget, False
    if step > total_step - tfinal:
        return target_budget, True
    progress = 1 - (step - tinit) / (total_step - tfinal - tinit)
    budget = int((init_budget - target_budget) * progress ** 3
                 + target_budget)
    return budget, step % deltaT == 0


class AdaLoraLayer(LoraLayer):
    """A frozen linear layer plus an SVD-form update `P·diag(λ·mask)·Q`.

    Args:
        base_layer: Dense or EinsumDense layer.
        r: int. Initial rank (`init_r`).
        lora_alpha, lora_dropout: as in `LoraLayer`.
        orth_reg_weight: float. This layer's share of the regulariser is
            added with `add_loss` in training calls.
        num_layers: int. Updated layers in the model (the regulariser is a
            mean over their matrices).
        beta1, beta2: float. EMA factors of the importance scores.
    """

    def __init__(self, base_layer, r=12, lora_alpha=16.0, lora_dropout=0.0,
                 orth_reg_weight=0.5, num_layers=1, beta1=0.85, beta2=0.85,
                 **kwargs):
        super().__init__(base_layer, r, lora_alpha, lora_dropout, **kwargs)
        self.orth_reg_weight = float(orth_reg_weight)
        self.num_layers = int(num_layers)
        self.beta1, self.beta2 = float(beta1), float(beta2)

    def _create_factors(self):
        normal = keras.initializers.RandomNormal(stddev=0.02)
        in_shape, out_shape = self.plan["in_shape"], self.plan["out_shape"]
        self.lora_A = self.add_weight(  # P
            name="lora_A", shape=in_shape + (self.r,), initializer=normal)
        self.lora_E = self.add_weight(  # λ
            name="lora_E", shape=(self.r,), initializer="zeros")
        self.lora_B = self.add_weight(  # Q
            name="lora_B", shape=(self.r,) + out_shape, initializer=normal)
        self.rank_mask = self.add_weight(
            name="rank_mask", shape=(self.r,), initializer="ones",
            trainable=False)
        self.scores = {}
        for name in ("lora_A", "lora_E", "lora_B"):
            shape = getattr(self, name).shape
            self.scores[name] = (
                self.add_weight(name=f"{name}_ipt", shape=shape,
                                initializer="zeros", trainable=False),
                self.add_weight(name=f"{name}_unc", shape=shape,
                                initializer="zeros", trainable=False),
            )

    @property
    def peft_variables(self):
        return [self.lora_A, self.lora_E, self.lora_B]

    @property
    def peft_buffers(self):
        return [self.rank_mask]

    @property
    def bookkeeping_variables(self):
        """Masks and importance averages: state, not parameters."""
        return [self.rank_mask] + [v for pair in self.scores.values()
                                   for v in pair]

    def _matrices(self):
        p = ops.reshape(self.lora_A, (-1, self.r))  # (in, r)
        q = ops.reshape(self.lora_B, (self.r, -1))  # (r, out)
        return p, q

    def branch(self, x, training=None):
        if self.lora_dropout:
            x = self.dropout_layer(x, training=training)
        h = contract(self.plan["down"], x, self.lora_A)
        h = h * ops.cast(self.lora_E * self.rank_mask, h.dtype)
        return contract(self.plan["up"], h, self.lora_B) * self.scale

    def call(self, inputs, training=None):
        if training and self.enabled and self.orth_reg_weight:
            p, q = self._matrices()
            p, q = ops.cast(p, "float32"), ops.cast(q, "float32")
            eye = ops.eye(self.r, dtype="float32")
            regulariser = (ops.norm(ops.matmul(ops.transpose(p), p) - eye)
                           + ops.norm(ops.matmul(q, ops.transpose(q))
                                      - eye))
            self.add_loss(self.orth_reg_weight * regulariser
                          / (2 * self.num_layers))
        return super().call(inputs, training=training)

    def delta_weight(self):
        return ops.einsum(self.plan["merge"],
                          self.lora_A.value * self.lora_E.value
                          * self.rank_mask.value,
                          self.lora_B.value) * self.scale

    def update_importance(self, gradients):
        """Eq. 8-9: EMA of `|w·∇w|` and of its deviation (graph ops)."""
        for name, (ipt, unc) in self.scores.items():
            grad = gradients.get(name)
            if grad is None:
                continue
            weight = getattr(self, name)
            sensitivity = tf.abs(tf.cast(weight.value, tf.float32)
                                 * tf.cast(grad, tf.float32))
            finite = tf.reduce_all(tf.math.is_finite(sensitivity))
            new_ipt = self.beta1 * ipt.value + (1 - self.beta1) * sensitivity
            new_unc = (self.beta2 * unc.value + (1 - self.beta2)
                       * tf.abs(sensitivity - new_ipt))
            ipt.assign(tf.where(finite, new_ipt, ipt.value))
            unc.assign(tf.where(finite, new_unc, unc.value))

    def triplet_scores(self):
        """Eq. 10 per singular value: numpy `[r]`."""
        def score(name):
            ipt, unc = self.scores[name]
            return ipt.numpy() * unc.numpy()

        p = score("lora_A").reshape(-1, self.r).mean(axis=0)
        q = score("lora_B").reshape(self.r, -1).mean(axis=1)
        return score("lora_E") + p + q

    def rank(self):
        """Singular values in use (non-zero and not masked)."""
        values = self.lora_E.numpy() * self.rank_mask.numpy()
        return int(np.count_nonzero(values))


class RankAllocator(keras.callbacks.Callback):
    """Prunes singular values to the scheduled budget after each step.

    Also writes the budget and every layer's rank to TensorBoard
    (`<run_dir>/adalora/`, tags `budget` and `rank/<layer path>`) every
    `log_every` steps and at each epoch end, and the final rank pattern to
    `<run_dir>/adalora_rank_pattern.json`.

    Args:
        state: the model's `PeftState` (AdaLoRA).
        total_step: int. Optimizer updates of the run.
        run_dir: str, path or None (no logs).
        log_every: int. Steps between TensorBoard records.
    """

    def __init__(self, state, total_step, run_dir=None, log_every=50):
        super().__init__()
        config = state.config
        self.state = state
        self.layers = state.layers
        self.total_step = int(total_step)
        self.init_budget = config.init_r * len(self.layers)
        self.target_budget = config.target_r * len(self.layers)
        self.run_dir = pathlib.Path(run_dir) if run_dir else None
        self.log_every = log_every
        self.writer = None
        budget_schedule(0, self.init_budget, self.target_budget,
                        config.tinit, config.tfinal, self.total_step,
                        config.deltaT)  # checks the lengths

    def allocate(self, step):
        """Applies the schedule at `step`; returns the budget."""
        config = self.state.config
        budget, prune = budget_schedule(
            step, self.init_budget, self.target_budget, config.tinit,
            config.tfinal, self.total_step, config.deltaT)
        final_start = self.total_step - config.tfinal
        if step > final_start and self.state.rank_pattern_fixed:
            return budget  # the masks hold the fixed pattern
        if prune or step == final_start:
            self.prune_to(budget)
        if step >= final_start and config.tfinal:
            for layer in self.layers.values():  # fix the pattern
                layer.rank_mask.assign(
                    (layer.lora_E.numpy() != 0).astype(np.float32))
            self.state.rank_pattern_fixed = True
        return budget

    def prune_to(self, budget):
        """Zeroes the `init_budget − budget` least important λ."""
        layers = list(self.layers.values())
        scores = [layer.triplet_scores() for layer in layers]
        prune = self.init_budget - budget
        if prune <= 0:
            return
        threshold = np.sort(np.concatenate(scores))[prune - 1]
        for layer, score in zip(layers, scores):
            values = layer.lora_E.numpy()
            values[score <= threshold] = 0.0
            layer.lora_E.assign(values)

    def rank_pattern(self):
        return {path: layer.rank() for path, layer in self.layers.items()}

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        budget = self.allocate(step)
        if self.run_dir and step % self.log_every == 0:
            self._log(step, budget)

    def on_epoch_end(self, epoch, logs=None):
        if self.run_dir:
            step = int(self.model.optimizer.iterations.numpy())
            self._log(step, None)

    def _log(self, step, budget):
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(
                str(self.run_dir / "adalora"))
        pattern = self.rank_pattern()
        with self.writer.as_default(step=step):
            tf.summary.scalar("total_rank", sum(pattern.values()))
            if budget is not None:
                tf.summary.scalar("budget", budget)
            for path, rank in pattern.items():
                tf.summary.scalar(f"rank/{path}", rank)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.run_dir:
            (self.run_dir / "adalora_rank_pattern.json").write_text(
                json.dumps(self.rank_pattern(), indent=2) + "\n")


def apply_adalora(model, config=None, verbose=True):
    """Adds AdaLoRA to `model` in place and freezes everything else.

    The shared train step (`tfllm.training.steps`) calls the state's
    `gradient_hook` after each update to refresh the importance scores;
    `tfllm.training.train` adds the `RankAllocator` callback.

    Args:
        model: a `keras.Model` holding KerasHub transformer layers.
        config: `AdaLoraConfig` or None for the defaults.
        verbose: print the trainable-parameter summary.

    Returns:
        `model`.
    """
    config = config or AdaLoraConfig()
    state = base.start(model, config)
    count = len(_count_targets(model, config, state))

    def make(layer):
        return AdaLoraLayer(layer, config.init_r, config.lora_alpha,
                            config.lora_dropout, config.orth_reg_weight,
                            count, config.beta1, config.beta2)

    wrap_linear_layers(model, config, state, make)
    state.rank_pattern_fixed = False
    layers = list(state.layers.values())

    def gradient_hook(gradients, variables):
        by_id = {id(v): g for v, g in zip(variables, gradients)}
        scale = getattr(model.optimizer, "dynamic_scale", None)
        for layer in layers:
            grads = {}
            for name in ("lora_A", "lora_E", "lora_B"):
                grad = by_id.get(id(getattr(layer, name)))
                if grad is not None and scale is not None:
                    grad = grad / tf.cast(scale, grad.dtype)  # unscale
                grads[name] = grad
            layer.update_importance(grads)

    state.gradient_hook = gradient_hook

    def make_callbacks(total_updates, run_dir):
        total = config.total_step or total_updates
        return [RankAllocator(state, total, run_dir)]

    state.make_callbacks = make_callbacks

    def extra_config():
        return {"rank_pattern": {p: l.rank() for p, l in
                                 state.layers.items()}}

    state.extra_config = extra_config
    return base.finish(model, state, verbose)


def _count_targets(model, config, state):
    from tfllm.peft.lora import all_linear
    from tfllm.peft.lora import linear_candidates

    found = linear_candidates(model, state)
    if config.target_modules == "all-linear":
        return all_linear(found)
    return base.select(found, config.target_modules)
