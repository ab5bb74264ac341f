"""The CRF negative log-likelihood as a Keras loss over sub-token windows.

Token classification batches are windows of sub-tokens with a label and a
0/1 sample weight each (1 on labelled sub-tokens). The CRF
(`tfllm.layers.crf`, Lafferty et al. 2001) scores a window's label path as
a whole, so window `b` costs `NLL_b = -log p(y_b | x_b)` over its labelled
positions only, in order (the others leave the sequence). To remain a
per-token loss that sample weights and Keras reductions treat like the
cross-entropy, `NLL_b` is spread evenly over the window's `n_b` labelled
tokens, `NLL_b / n_b` each.

Under `tfllm.training.train` (`reduction="sum"`, weights normalised per
optimizer update by `tfllm.data.pipeline.normalize_weights` to `1 / N`
for the `N` labelled tokens of the update) the loss is
`sum_b n_b * (1 / N) * NLL_b / n_b = sum_b NLL_b / N`: the CRF NLL per
labelled token of the update, on the cross-entropy's scale, and exact under
`tf.distribute` and gradient accumulation, since every replica and
micro-batch sums its windows with the update's weights.
"""

import keras
import tensorflow as tf


class SequenceLoss(keras.losses.Loss):
    """A loss over whole windows whose unlabelled positions carry -1.

    Keras calls `call(y_true, y_pred)` without the sample weights; a
    sequence-level loss (CRF likelihood, GlobalPointer's span loss) needs
    to know which positions are labelled, so positions of sample weight 0
    (padding, continuation sub-tokens) get the label -1 before `call`.
    """

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            y_true = tf.where(
                tf.cast(sample_weight, tf.float32) > 0,
                tf.cast(y_true, tf.int32), -1)
        return super().__call__(y_true, y_pred, sample_weight)


@keras.saving.register_keras_serializable(package="tfllm")
class CRFLoss(SequenceLoss):
    """Per-window CRF negative log-likelihood, spread over labelled tokens.

    The loss reads the scores of a `tfllm.layers.CRF`: pass it as `crf`,
    or compile a `TokenClassifier` built with `head="crf"`, whose
    `compute_loss` binds its own layer (a loss rebuilt from a checkpoint's
    compile config has none until then). Positions with sample weight 0 or
    a negative label leave the CRF sequence; the weights then scale each
    labelled token's share as usual.

    Args:
        crf: `tfllm.layers.CRF` or None (bound later, see above).
        reduction: str. As `keras.losses.Loss`. Defaults to `"sum"`, as
            `tfllm.training.train` needs; `"mean_with_sample_weight"` with
            0/1 weights gives the NLL per labelled token of the batch.
        name: str. Defaults to `"crf_loss"`.

    Call arguments:
        y_true: int `[batch_size, sequence_length]` label ids; negative
            ids mark unlabelled positions.
        y_pred: float `[batch_size, sequence_length, num_labels]` emission
            logits (the model output).
        sample_weight: float `[batch_size, sequence_length]` or None.

    Returns:
        float32 scalar (or `[batch_size, sequence_length]` per-token shares
        with `reduction=None`).

    Raises:
        ValueError: called before a CRF layer was bound.

    Examples:
    ```python
    model = TokenClassifier(backbone, labels, head="crf")
    model.compile(optimizer="adam", loss=CRFLoss())  # bound to model.crf
    ```
    """

    def __init__(self, crf=None, reduction="sum", name="crf_loss",
                 **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.crf = crf

    def call(self, y_true, y_pred):
        if self.crf is None:
            raise ValueError(
                "CRFLoss has no CRF layer: pass crf=, or compile a "
                "TokenClassifier built with head='crf'")
        y_true = tf.cast(y_true, tf.int32)
        mask = y_true >= 0
        nll = -self.crf.log_likelihood(y_pred, y_true, mask)  # [B]
        count = tf.reduce_sum(tf.cast(mask, tf.float32), axis=1)
        share = nll / tf.maximum(count, 1.0)
        return tf.where(mask, share[:, None], 0.0)  # [B, T]
