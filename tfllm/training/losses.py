"""Losses the Keras built-ins do not cover.

`SparseCategoricalCrossentropy` with label smoothing: Keras 3's sparse
cross-entropy has no `label_smoothing` argument (only the one-hot
`CategoricalCrossentropy` does), and the task datasets carry integer class
ids. Label smoothing (Szegedy et al. 2016, "Rethinking the Inception
Architecture", section 7) trains against `(1 - eps) * one_hot + eps / C`
instead of the one-hot target; it is what Hugging Face's
`TrainingArguments.label_smoothing_factor` and PyTorch's
`CrossEntropyLoss(label_smoothing=eps)` compute.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfllm")
class SmoothedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer class ids against label-smoothed targets.

    Per example: `-sum_c q_c * log softmax(logits)_c` with
    `q = (1 - label_smoothing) * one_hot(y) + label_smoothing / num_classes`
    (equal to the sparse cross-entropy at `label_smoothing=0`).

    Args:
        num_classes: int. C, the width of the logits.
        label_smoothing: float in [0, 1). Probability mass spread evenly
            over all classes; default 0.1.
        from_logits: bool. `y_pred` are logits (default) or probabilities.
        reduction, name: as `keras.losses.Loss`.

    Call arguments:
        y_true: int `[batch]` (or `[batch, 1]`) class ids in `[0, C)`.
        y_pred: float `[batch, C]`.

    Raises:
        ValueError: `label_smoothing` outside [0, 1) or `num_classes` < 2.
    """

    def __init__(self, num_classes, label_smoothing=0.1, from_logits=True,
                 reduction="sum_over_batch_size",
                 name="smoothed_sparse_categorical_crossentropy", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(
                f"label_smoothing must be in [0, 1): {label_smoothing}")
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2: {num_classes}")
        self.num_classes = int(num_classes)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        ids = ops.cast(y_true, "int32")
        if len(ids.shape) == len(y_pred.shape):  # [batch, 1]
            ids = ops.squeeze(ids, axis=-1)
        target = ops.one_hot(ids, self.num_classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, from_logits=self.from_logits,
            label_smoothing=self.label_smoothing)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes,
                      label_smoothing=self.label_smoothing,
                      from_logits=self.from_logits)
        return config
