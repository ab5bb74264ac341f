"""The custom training step shared by tfllm's task models.

It is Keras' own TensorFlow `train_step` (keras/src/backend/tensorflow/
trainer.py) written out so task models can extend it: forward pass under a
tape, `compute_loss` with the batch's sample weights, `optimizer.scale_loss`
(a no-op unless the optimizer is a `LossScaleOptimizer`, as `compile` makes
for the `mixed_float16` policy), gradients, `optimizer.apply`.

Distribution: Keras loss objects divide their value by the number of
replicas, so the gradients that `tf.distribute` sums over replicas are the
gradients of the global mean loss (outside case BR-12). The loss tracker is
given the undivided value, so the reported loss is the global mean, not
1/replicas of it.

Mixed precision (outside case BR-11): with a `LossScaleOptimizer`,
`apply` divides the gradients by the current scale and skips a step whose
gradients are not finite, halving the scale; such a step does not advance
`optimizer.iterations`, hence neither the learning-rate schedule.
"""

import keras
import tensorflow as tf


def train_step(model, data):
    """One optimisation step of `model` on a batch.

    Args:
        model: a compiled `keras.Model`.
        data: `(x, y)` or `(x, y, sample_weight)` from the dataset.

    Returns:
        dict of metric results (`loss` and compiled metrics).
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
            training=True,
        )
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        batch_size = tf.shape(tf.nest.flatten(x)[0])[0]
        model._loss_tracker.update_state(
            loss * replicas, sample_weight=batch_size
        )
        scaled_loss = model.optimizer.scale_loss(loss)
    gradients = tape.gradient(scaled_loss, model.trainable_variables)
    model.optimizer.apply(gradients, model.trainable_variables)
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
