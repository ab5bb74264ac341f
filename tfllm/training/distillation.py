"""Knowledge distillation: a fine-tuned teacher trains a smaller student.

Hinton, Vinyals & Dean (2015), "Distilling the Knowledge in a Neural
Network": the student matches the teacher's softened distribution
`softmax(teacher_logits / T)` (scaled by `T**2` so gradients keep their
size as `T` changes) mixed with the usual cross-entropy on the hard labels.
Students with fewer layers start from a subset of the teacher's layers, as
DistilBERT does (Sanh et al. 2019, "DistilBERT, a distilled version of
BERT", Sec. 3: one layer out of two).

The teacher runs once over the training sequences (it is frozen and has no
dropout at inference, so its logits do not change between epochs); its
logits are packed next to the hard label in the label tensor, so the shared
training loop (`tfllm.training.trainer.train`) runs unchanged with
`DistillationLoss` (`reduction="sum"`, per-update normalised weights) in
place of the cross-entropy.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfllm")
class DistillationLoss(keras.losses.Loss):
    """`alpha * T**2 * KL(teacher_T || student_T) + (1 - alpha) * CE(hard)`.

    Args:
        temperature: float. Softening temperature `T` (> 0). Defaults to 2.
        alpha: float in [0, 1]. Weight of the soft (teacher) term; 1 - alpha
            weighs the hard-label cross-entropy. Defaults to 0.5.
        reduction: str. `"sum"` for `tfllm.training.train` (it normalises
            the sample weights per optimizer update).

    Call arguments:
        y_true: float32 `[..., 1 + num_labels]`: the hard label id (as a
            float) followed by the teacher's logits (`pack_targets`).
        y_pred: student logits `[..., num_labels]`.

    Returns:
        The loss per element `[...]`, weighted and reduced by Keras.

    Raises:
        ValueError: temperature not positive or alpha outside [0, 1].
    """

    def __init__(self, temperature=2.0, alpha=0.5, reduction="sum",
                 name="distillation_loss", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.temperature = float(temperature)
        self.alpha = float(alpha)

    def call(self, y_true, y_pred):
        y_pred = tf.cast(y_pred, tf.float32)
        y_true = tf.cast(y_true, tf.float32)
        hard = tf.cast(y_true[..., 0], tf.int32)
        teacher = y_true[..., 1:]
        t = self.temperature
        hard_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=hard, logits=y_pred)
        teacher_probabilities = tf.nn.softmax(teacher / t, axis=-1)
        # KL(p || q) = sum p (log p - log q), p the teacher, q the student.
        kl = tf.reduce_sum(
            teacher_probabilities * (
                tf.nn.log_softmax(teacher / t, axis=-1)
                - tf.nn.log_softmax(y_pred / t, axis=-1)),
            axis=-1)
        return self.alpha * t * t * kl + (1.0 - self.alpha) * hard_loss

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature, alpha=self.alpha)
        return config


def teacher_logits(teacher, features, batch_size=64):
    """The teacher's logits on encoded sequences (inference mode).

    Args:
        teacher: task model.
        features: dict of int32 `tf.RaggedTensor` `[num_sequences,
            (length)]` (`EncodedWindows.features`).
        batch_size: int.

    Returns:
        float32 `tf.RaggedTensor` `[num_sequences, (length), num_labels]`
        for token models, float32 `[num_sequences, num_labels]` otherwise.
    """
    call = tf.function(lambda x: tf.cast(teacher(x, training=False),
                                         tf.float32), reduce_retracing=True)
    total = int(features["token_ids"].nrows())
    pieces = []
    for start in range(0, total, batch_size):
        batch = {k: v[start:start + batch_size] for k, v in features.items()}
        logits = call({k: v.to_tensor() for k, v in batch.items()})
        if logits.shape.rank == 3:
            lengths = batch["token_ids"].row_lengths()
            logits = tf.RaggedTensor.from_tensor(logits, lengths=lengths)
        pieces.append(logits)
    return tf.concat(pieces, axis=0)


def pack_targets(labels, logits):
    """Hard labels and teacher logits in one float32 label tensor.

    Args:
        labels: int32 `[n, (length)]` ragged (tokens) or `[n]` (texts).
        logits: float32, the same leading shape plus `[num_labels]`.

    Returns:
        float32 `[..., 1 + num_labels]`, as `DistillationLoss` reads it.
    """
    hard = tf.cast(labels, tf.float32)[..., tf.newaxis]
    return tf.concat([hard, logits], axis=-1)


def with_teacher_targets(teacher, encoded, batch_size=64):
    """A copy of `EncodedWindows` whose labels carry the teacher's logits."""
    logits = teacher_logits(teacher, encoded.features, batch_size)
    return dataclasses.replace(
        encoded, labels=pack_targets(encoded.labels, logits))


def student_layer_indices(teacher_layers, student_layers):
    """Teacher layers that initialise the student's, evenly spaced.

    The last teacher layer is always kept; 3 of 6 gives `[1, 3, 5]` (every
    other layer, as DistilBERT).
    """
    if not 0 < student_layers <= teacher_layers:
        raise ValueError(f"student_layers must be in [1, {teacher_layers}]"
                         f", got {student_layers}")
    step = teacher_layers / student_layers
    return [int(round(step * (i + 1))) - 1 for i in range(student_layers)]


def student_from_teacher(teacher, num_layers):
    """A task model with fewer transformer layers, initialised from teacher.

    Embeddings, the kept layers (`student_layer_indices`), the task head
    and, for NER, the casing and lexicon embeddings are copied; the
    preprocessor (hence tokenizer, vocabulary and lexicon) is shared.

    Args:
        teacher: `TokenClassifier` or `TextClassifier` on a KerasHub
            backbone with `transformer_layers` (BERT-style).
        num_layers: int. Student depth.

    Returns:
        A new task model of the teacher's class.

    Raises:
        ValueError: the backbone has no `transformer_layers`/`num_layers`.
    """
    backbone = teacher.backbone
    if not hasattr(backbone, "transformer_layers"):
        raise ValueError(f"{type(backbone).__name__}: no transformer_layers "
                         "to initialise a shallower student from")
    config = backbone.get_config()
    config["num_layers"] = num_layers
    student_backbone = type(backbone).from_config(config)
    keep = student_layer_indices(len(backbone.transformer_layers), num_layers)
    teacher_layers = set(id(v) for layer in backbone.transformer_layers
                         for v in layer.weights)
    shared = [v for v in backbone.weights if id(v) not in teacher_layers]
    student_layers = set(id(v) for layer in student_backbone.transformer_layers
                         for v in layer.weights)
    student_shared = [v for v in student_backbone.weights
                      if id(v) not in student_layers]
    for target, source in zip(student_shared, shared, strict=True):
        if target.shape != source.shape:
            raise ValueError(f"cannot copy {source.path} {source.shape} "
                             f"into {target.path} {target.shape}")
        target.assign(source)
    for i, j in enumerate(keep):
        student_backbone.transformer_layers[i].set_weights(
            backbone.transformer_layers[j].get_weights())

    task_config = teacher.get_config()
    task_config["backbone"] = student_backbone
    task_config["preprocessor"] = teacher.preprocessor
    task_config["name"] = teacher.name + f"_student{num_layers}"
    student = type(teacher).from_config(task_config)
    for layer_name in ("classifier_head", "casing_embedding",
                       "lexicon_embedding"):
        source = getattr(teacher, layer_name, None)
        if source is not None:
            getattr(student, layer_name).set_weights(source.get_weights())
    return student


def parameter_count(model):
    """Number of weights of a model (trainable or not)."""
    return int(sum(np.prod(v.shape) for v in model.weights))
