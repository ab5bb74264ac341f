"""The custom training step shared by tfllm's task models.

It is Keras' own TensorFlow `train_step` (keras/src/backend/tensorflow/
trainer.py) written out so task models can extend it: forward pass under a
tape, `compute_loss` with the batch's sample weights, `optimizer.scale_loss`
(a no-op unless the optimizer is a `LossScaleOptimizer`, as `compile` makes
for the `mixed_float16` policy), gradients, `optimizer.apply`.

Distribution: Keras loss objects divide their value by the number of
replicas, so the gradients that `tf.distribute` sums over replicas are the
gradients of the global mean loss. The loss tracker is
given the undivided value, so the reported loss is the global mean, not
1/replicas of it.

Mixed precision: with a `LossScaleOptimizer`,
`apply` divides the gradients by the current scale and skips a step whose
gradients are not finite, halving the scale; such a step does not advance
`optimizer.iterations`, hence neither the learning-rate schedule.
"""

import keras
import tensorflow as tf

from tfllm.training.adversarial import adversarial_gradients
from tfllm.training.adversarial import check_replicas
from tfllm.training.adversarial import dense_gradient
from tfllm.training.adversarial import token_embedding_variable
from tfllm.training.rdrop import rdrop_kl


def train_step(model, data):
    """One optimisation step of `model` on a batch.

    With `model.micro_batches = N > 1` (gradient accumulation), the batch
    is cut into N contiguous micro-batches that run forward and backward
    one after the other (each waits for the previous one's gradients, so
    only one micro-batch's activations are alive); their gradients are
    summed and applied once. The update is the batch's, at the memory of a
    micro-batch. Accumulating inside the step, not across steps, keeps the
    optimizer's `apply` unconditional: Keras' own accumulation puts it in a
    `cond`, which fails under `tf.distribute` (merge_call inside control
    flow).

    Training strategies, set as model attributes by `tfllm.training.train`
    from its `TrainingConfig`: `model.rdrop_alpha > 0` runs each
    micro-batch twice with R-Drop's loss (`tfllm.training.rdrop`);
    `model.adversarial` (an `AdversarialSettings` with method `fgm` or
    `pgd`) adds, per micro-batch, the gradients of a pass on perturbed
    word embeddings (`tfllm.training.adversarial`). All gradients are
    summed before the one `optimizer.apply`.

    Args:
        model: a compiled `keras.Model`.
        data: `(x, y)` or `(x, y, sample_weight)` from the dataset; sample
            weights already normalised over the whole batch.

    Returns:
        dict of metric results (`loss` and compiled metrics).
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    micro_batches = int(getattr(model, "micro_batches", 1) or 1)
    batch_size = tf.shape(tf.nest.flatten(x)[0])[0]
    adversarial = getattr(model, "adversarial", None)
    embedding = None
    if adversarial is not None and adversarial.method != "none":
        check_replicas()
        embedding = token_embedding_variable(model)
    variables = list(model.trainable_variables)
    gradients, total_loss = None, 0.0
    for part in _micro_batches((x, y, sample_weight), batch_size,
                               micro_batches):
        px, py, psw = part
        after = [] if gradients is None else [
            g for g in gradients if g is not None]
        with tf.control_dependencies(after):
            loss, y_pred, grads, embedding_grad = _clean_gradients(
                model, px, py, psw, variables, embedding)
            if embedding is not None:
                adversarial_grads = adversarial_gradients(
                    model, px, py, psw, embedding, embedding_grad,
                    variables, adversarial)
                grads = _add(grads, adversarial_grads)
        # Embedding gradients arrive as IndexedSlices, for which Keras' TF
        # optimizers update only the rows in the batch (lazy Adam). Dense
        # gradients give standard AdamW (Loshchilov & Hutter 2019), as
        # PyTorch and Hugging Face do.
        grads = [dense_gradient(g) for g in grads]
        gradients = grads if gradients is None else _add(gradients, grads)
        total_loss += loss
        model.compute_metrics(px, py, y_pred, sample_weight=psw)
    model._loss_tracker.update_state(
        total_loss * replicas, sample_weight=batch_size
    )
    results = model.get_metrics_result()
    clipnorm = getattr(model, "replica_clipnorm", None)
    if clipnorm and replicas > 1:
        gradients = _clip_by_global_norm_across_replicas(
            gradients, clipnorm, model.optimizer
        )
    model.optimizer.apply(gradients, model.trainable_variables)
    # A PEFT method that reads gradients (AdaLoRA's importance scores).
    peft_state = vars(model).get("peft_state")
    if peft_state is not None and peft_state.gradient_hook is not None:
        peft_state.gradient_hook(gradients, model.trainable_variables)
    if isinstance(tf.distribute.get_strategy(),
                  tf.distribute.MultiWorkerMirroredStrategy):
        # Keras 3.15 reduces the step's logs across workers with
        # `strategy.reduce("MEAN", value, axis=0)`, which needs an axis 0.
        results = {k: tf.reshape(v, [1]) for k, v in results.items()}
    return results


def refuse_strategies(model, task):
    """Raises ValueError if the trainer set R-Drop or adversarial training.

    For models with a train step of their own (in-batch negatives), which
    does not implement them; EMA (an optimizer setting) works everywhere.

    Args:
        model: the model being trained.
        task: str. What the model trains, for the message.

    Raises:
        ValueError: `model.adversarial` or `model.rdrop_alpha > 0`.
    """
    if getattr(model, "adversarial", None) is not None or float(
            getattr(model, "rdrop_alpha", 0.0) or 0.0) > 0:
        raise ValueError(
            f"{task} has its own train step without adversarial training "
            "or R-Drop: use --adversarial none and --rdrop-alpha 0 "
            "(--ema-decay works)")


def _clean_gradients(model, x, y, sample_weight, variables, embedding):
    """Loss, outputs and gradients of the unperturbed pass of a batch.

    With `model.rdrop_alpha > 0` the batch runs twice (two dropout
    masks) and the loss is R-Drop's (`tfllm.training.rdrop`): the mean of
    the two task losses plus alpha times their symmetric KL.

    Returns:
        `(loss, y_pred, grads, embedding_grad)`: grads of the scaled loss
        per variable; `embedding_grad` that of `embedding` (None when
        `embedding` is None), also when the embedding is frozen.
    """
    alpha = float(getattr(model, "rdrop_alpha", 0.0) or 0.0)
    frozen = embedding is not None and not embedding.trainable
    with tf.GradientTape() as tape:
        if frozen:
            tape.watch(embedding.value)
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred,
                                  sample_weight=sample_weight, training=True)
        if alpha > 0:
            second = model(x, training=True)
            loss = 0.5 * (loss + model.compute_loss(
                x=x, y=y, y_pred=second, sample_weight=sample_weight,
                training=True))
            loss += alpha * tf.cast(rdrop_kl(
                y_pred, second, sample_weight,
                multi_label=bool(getattr(model, "multi_label", False)),
                reduction=getattr(model.loss, "reduction", "sum")),
                loss.dtype)
        scaled_loss = model.optimizer.scale_loss(loss)
    targets = variables + ([embedding.value] if frozen else [])
    grads = tape.gradient(scaled_loss, targets)
    embedding_grad = None
    if frozen:
        embedding_grad = grads.pop()
    elif embedding is not None:
        embedding_grad = grads[[v is embedding for v in variables].index(
            True)]
    return loss, y_pred, grads, embedding_grad


def _add(a, b):
    """Sums two gradient lists; None counts as zero."""
    return [x if y is None else y if x is None
            else dense_gradient(x) + dense_gradient(y)
            for x, y in zip(a, b)]


def _micro_batches(batch, batch_size, count):
    """Cuts a nested batch into `count` contiguous parts along axis 0.

    Parts hold `ceil(batch_size / count)` rows, the last one the rest
    (possibly none); `count = 1` returns the batch itself.
    """
    if count == 1:
        return [batch]
    size = (batch_size + count - 1) // count
    parts = []
    for i in range(count):
        start = tf.minimum(i * size, batch_size)
        end = tf.minimum(start + size, batch_size)
        parts.append(tf.nest.map_structure(
            lambda t: None if t is None else t[start:end], batch))
    return parts


def _clip_by_global_norm_across_replicas(gradients, clipnorm, optimizer):
    """Clips replica gradients so that their sum has at most `clipnorm`.

    Keras 3.15 applies `global_clipnorm` inside each replica, to that
    replica's part of the gradient, before the parts are summed: the update
    then differs from single-device training. Here the norm is taken of the
    summed (and loss-unscaled) gradient, and every replica's part is scaled
    by the same factor. The optimizer must then be built without clipping.
    """
    context = tf.distribute.get_replica_context()
    present = [g for g in gradients if g is not None]
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, present)
    norm = tf.linalg.global_norm(total)
    scale = getattr(optimizer, "dynamic_scale", None)
    if scale is not None:  # LossScaleOptimizer: gradients are still scaled
        norm = norm / tf.cast(scale, norm.dtype)
    factor = tf.minimum(1.0, clipnorm / tf.maximum(norm, 1e-12))
    return [None if g is None else g * tf.cast(factor, g.dtype)
            for g in gradients]


def symbolic_build_per_leaf(parent, iterator=None, data_batch=None):
    """Keras' `_maybe_symbolic_build`, reducing the sample batch per tensor.

    Before training under a strategy, Keras 3.15 builds the model on one
    batch that it reduces across replicas with a single `strategy.reduce`
    on the whole nested batch. MultiWorkerMirroredStrategy's `reduce` takes
    one tensor only and fails on dict inputs ("unsupported type dict"); here
    each tensor is reduced separately. Task models call this from their
    `_maybe_symbolic_build` override, with `parent = super()`.
    """
    model = parent.__self__
    strategy = getattr(model, "_distribute_strategy", None)
    if strategy is None or iterator is None:
        return parent._maybe_symbolic_build(
            iterator=iterator, data_batch=data_batch
        )
    for _, _, batches in iterator:
        batch = next(batches)
        break

    def reduce(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.reduce("MEAN", value, axis=None)
        return value

    return parent._maybe_symbolic_build(
        data_batch=tf.nest.map_structure(reduce, batch)
    )


class SharedTrainStep:
    """Mixin: a Keras model trained by `train_step` above.

    Put it before the Keras / KerasHub model class in the bases
    (`class CausalLM(SharedTrainStep, keras_hub.models.GPT2CausalLM)`), so
    that every tfllm task, whatever KerasHub class it extends, trains with
    the one step and builds per input leaf (`symbolic_build_per_leaf`).
    """

    def train_step(self, data):
        return train_step(self, data)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        return symbolic_build_per_leaf(super(), iterator, data_batch)
