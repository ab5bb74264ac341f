"""Adversarial training on the word embeddings: FGM and PGD.

Both methods add a small perturbation `r` to the rows of the backbone's
word (token) embedding matrix that the batch uses, in the direction that
raises the loss most, run the batch again through the perturbed model and
add that pass's gradients to the clean ones before the one optimizer
update; the embedding matrix is then restored bit for bit.

- FGM (fast gradient method; Miyato, Dai, Goodfellow 2017, "Adversarial
  Training Methods for Semi-Supervised Text Classification"):
  `r = epsilon * g / ||g||_2`, with `g` the gradient of the loss with
  respect to the embedding matrix (non-zero only on the batch's rows) and
  the L2 norm over the whole matrix, as in the usual recipe for BERT
  fine-tuning. One more forward and backward pass: a step costs about 2x.
- PGD (projected gradient descent; Madry, Makelov, Schmidt, Tsipras,
  Vladu 2018, "Towards Deep Learning Models Resistant to Adversarial
  Attacks"), the K-step embedding recipe of BERT fine-tuning (see Zhu et
  al. 2020, "FreeLB"): K ascent steps `r += alpha * g / ||g||`, each
  projected back onto the ball `||r|| <= epsilon`, each followed by a
  forward and backward pass; only the last pass's gradients are added to
  the clean ones. A step costs about (K + 1)x.

The perturbation changes the embedding variable in place, once per
replica, so adversarial training refuses `tf.distribute` strategies with
more than one replica (`check_replicas`).
"""

import contextlib
import dataclasses

import keras
import tensorflow as tf

METHODS = ("none", "fgm", "pgd")


@dataclasses.dataclass
class AdversarialSettings:
    """What the train step perturbs (`TrainingConfig` fields of a run).

    Attributes:
        method: str. `"fgm"` or `"pgd"` (`"none"`: no adversarial pass).
        epsilon: float. L2 norm of the FGM perturbation; radius of the
            PGD ball. Units of the embedding matrix (BERT recipe: 1.0).
        pgd_steps: int. PGD ascent steps K (each a forward and backward
            pass).
        pgd_alpha: float. L2 norm of each PGD ascent step.

    Raises:
        ValueError: unknown method or a non-positive size or step count.
    """

    method: str = "none"
    epsilon: float = 1.0
    pgd_steps: int = 3
    pgd_alpha: float = 0.3

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"adversarial must be one of {METHODS}, got "
                             f"{self.method!r}")
        if not self.epsilon > 0:
            raise ValueError(
                f"adversarial_epsilon must be > 0, got {self.epsilon}")
        if self.method == "pgd" and (self.pgd_steps < 1
                                     or not self.pgd_alpha > 0):
            raise ValueError(
                "PGD needs pgd_steps >= 1 and pgd_alpha > 0, got "
                f"pgd_steps={self.pgd_steps}, pgd_alpha={self.pgd_alpha}")


def token_embedding_variable(model):
    """The word-embedding matrix of a task model's KerasHub backbone.

    Looks for the backbone's `token_embedding` layer (BERT, MiniLM,
    RoBERTa, XLM-R and e5 backbones have the attribute), else the first
    layer of the backbone whose name ends in `token_embedding`.

    Args:
        model: a task model with a `backbone` (or a backbone itself).

    Returns:
        The `keras.Variable` `[vocabulary_size, hidden_dim]`.

    Raises:
        ValueError: no token embedding found; the message lists the
            backbone's embedding layers.
    """
    backbone = getattr(model, "backbone", None) or model
    layer = getattr(backbone, "token_embedding", None)
    if layer is None:
        layers = backbone._flatten_layers(include_self=False)
        named = [l for l in layers if l.name.endswith("token_embedding")]
        if not named:
            candidates = [l.name for l in backbone._flatten_layers(
                include_self=False) if "embedding" in l.name]
            raise ValueError(
                f"{type(backbone).__name__} has no token_embedding layer "
                f"to perturb; embedding layers: {candidates}")
        layer = named[0]
    return layer.embeddings


def check_replicas():
    """Raises ValueError under a strategy with more than one replica."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        raise ValueError(
            f"adversarial training (fgm, pgd) runs on one replica only, got "
            f"{replicas}: the perturbation is written into the shared "
            "embedding variable. Use --strategy one_device or "
            "--adversarial none.")


def fgm_perturbation(gradient, epsilon):
    """`epsilon * g / ||g||_2` (Miyato et al. 2017, Eq. 2), 0 if unusable.

    Args:
        gradient: float tensor (any shape), e.g. `[vocabulary_size,
            hidden_dim]`; may be loss-scaled (the scale cancels).
        epsilon: float. L2 norm of the result.

    Returns:
        Tensor of `gradient`'s shape and dtype; zeros when the norm is 0
        or not finite (a loss-scale overflow, whose step the optimizer
        skips anyway).
    """
    gradient = tf.convert_to_tensor(gradient)
    norm = tf.norm(tf.cast(gradient, tf.float32))
    usable = tf.logical_and(norm > 0, tf.math.is_finite(norm))
    safe = tf.where(usable, norm, 1.0)
    step = tf.cast(epsilon / safe, gradient.dtype) * gradient
    return tf.where(usable, step, tf.zeros_like(gradient))


def _project(delta, epsilon):
    """`delta` scaled onto the L2 ball of radius `epsilon` if outside."""
    norm = tf.norm(delta)
    return delta * tf.minimum(1.0, epsilon / tf.maximum(norm, 1e-12))


def dense_gradient(gradient):
    """`gradient` as a dense tensor (`tf.IndexedSlices` from an embedding
    lookup are scattered into the full matrix; None and tensors pass)."""
    if isinstance(gradient, tf.IndexedSlices):
        return tf.convert_to_tensor(gradient)
    return gradient


def adversarial_gradients(model, x, y, sample_weight, embedding,
                          embedding_gradient, variables, settings):
    """Gradients of the loss on perturbed embeddings (FGM or PGD).

    Called by the train step after the clean pass of a (micro-)batch.
    The embedding variable is restored exactly (from a copy) before
    returning.

    Args:
        model: the compiled task model (its `compute_loss`, loss scaling).
        x: the batch's model inputs.
        y: the batch's labels.
        sample_weight: the batch's sample weights, or None.
        embedding: the variable of `token_embedding_variable(model)`.
        embedding_gradient: the clean pass's gradient of the (scaled) loss
            with respect to `embedding`, dense or `tf.IndexedSlices`.
        variables: list of the variables to return gradients for
            (`model.trainable_variables`).
        settings: `AdversarialSettings`.

    Returns:
        list of gradients of the scaled adversarial loss, one per entry of
        `variables` (None where a variable has no gradient).
    """
    backup = tf.identity(embedding.value)
    g = dense_gradient(embedding_gradient)
    grads = None
    if settings.method == "fgm":
        embedding.assign_add(fgm_perturbation(g, settings.epsilon))
        grads = _loss_gradients(model, x, y, sample_weight, variables)
    else:
        for step in range(settings.pgd_steps):
            moved = embedding.value + fgm_perturbation(g, settings.pgd_alpha)
            embedding.assign(
                backup + _project(moved - backup, settings.epsilon))
            if step < settings.pgd_steps - 1:
                g = dense_gradient(_loss_gradients(
                    model, x, y, sample_weight, [embedding])[0])
            else:
                grads = _loss_gradients(model, x, y, sample_weight,
                                        variables)
    with tf.control_dependencies([g for g in grads if g is not None]):
        embedding.assign(backup)
    return grads


def _loss_gradients(model, x, y, sample_weight, variables):
    with tf.GradientTape() as tape:
        for v in variables:
            if not v.trainable:
                tape.watch(v.value)
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred,
                                  sample_weight=sample_weight, training=True)
        scaled = model.optimizer.scale_loss(loss)
    targets = [v if v.trainable else v.value for v in variables]
    return tape.gradient(scaled, targets)


def _evaluation_loss(model):
    if hasattr(model, "training_loss"):
        return model.training_loss(reduction="sum_over_batch_size")
    if getattr(model, "multi_label", False):
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def fgm_loss(model, x, y, sample_weight=None, epsilon=1.0, loss=None,
             training=False):
    """Loss and outputs of `model` under the FGM perturbation of `epsilon`.

    For measuring robustness: the perturbation `epsilon * g / ||g||_2` is
    computed from the gradient `g` of `loss` with respect to the word
    embedding matrix (Miyato et al. 2017), added to it, the batch is run
    again, and the matrix is restored exactly. Accuracy of the returned
    outputs is the accuracy under this (one-step, worst-case-direction)
    attack.

    Args:
        model: a task model with a KerasHub `backbone`.
        x: dict of model inputs (`token_ids`, `padding_mask`, ...), each
            `[batch_size, sequence_length]`.
        y: labels: `[batch_size, sequence_length]` token label ids,
            `[batch_size]` class ids or `[batch_size, num_labels]`
            multi-hot vectors.
        sample_weight: float tensor of `y`'s shape without the label axis,
            or None (all 1; give 0 on padding for token tasks).
        epsilon: float. L2 norm of the perturbation. Default 1.0.
        loss: callable `(y, logits, sample_weight=...) -> scalar` or
            None: `model.training_loss(reduction="sum_over_batch_size")`
            when the model has one (`TokenClassifier`: cross-entropy or
            the CRF likelihood), else a mean cross-entropy from logits
            (binary for a `multi_label` model, sparse otherwise).
        training: bool. Run with dropout. Default False.

    Returns:
        `(loss, outputs)`: the scalar float32 loss on the perturbed batch
        and the model's outputs (logits) on it.

    Raises:
        ValueError: the model has no token embedding, the loss cannot be
            built, or `epsilon` is not positive.
    """
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    if loss is None:
        loss = _evaluation_loss(model)
    g = embedding_gradient(model, x, y, sample_weight, loss, training)
    with shifted_embedding(model, fgm_perturbation(g, epsilon)):
        outputs = model(x, training=training)
        value = loss(y, outputs, sample_weight=sample_weight)
    return tf.cast(value, tf.float32), outputs


def embedding_gradient(model, x, y, sample_weight=None, loss=None,
                       training=False):
    """Gradient of a batch's loss with respect to the word embeddings.

    Args:
        model: a task model with a KerasHub `backbone`.
        x: dict of model inputs, see `fgm_loss`.
        y: labels, see `fgm_loss`.
        sample_weight: see `fgm_loss`.
        loss: see `fgm_loss` (None: the model's evaluation loss).
        training: bool. Run with dropout. Default False.

    Returns:
        Dense float tensor `[vocabulary_size, hidden_dim]`, the gradient
        `g` of `loss(y, model(x), sample_weight)` with respect to the
        matrix of `token_embedding_variable(model)` (zero in the rows of
        tokens absent from the batch).
    """
    if loss is None:
        loss = _evaluation_loss(model)
    target = token_embedding_variable(model).value
    with tf.GradientTape() as tape:
        tape.watch(target)
        value = loss(y, model(x, training=training),
                     sample_weight=sample_weight)
    return dense_gradient(tape.gradient(value, target))


@contextlib.contextmanager
def shifted_embedding(model, delta):
    """Adds `delta` to the word-embedding matrix inside a `with` block.

    The matrix is copied first and assigned back when the block ends,
    normally or by an exception, so it is restored bit for bit (not by
    subtracting `delta`, which rounds).

    Args:
        model: a task model with a KerasHub `backbone`.
        delta: float tensor `[vocabulary_size, hidden_dim]`, e.g.
            `fgm_perturbation(embedding_gradient(...), epsilon)`.

    Yields:
        The embedding `keras.Variable`, holding the shifted matrix.
    """
    embedding = token_embedding_variable(model)
    backup = tf.identity(embedding.value)
    try:
        embedding.assign_add(delta)
        yield embedding
    finally:
        embedding.assign(backup)
