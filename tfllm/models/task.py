"""The base of tfllm's task models: one training step for every task."""

import keras
import tensorflow as tf


class Task(keras.Model):
    """A `keras.Model` whose `train_step` every tfllm task shares.

    Subclasses build a functional graph in `__init__` (backbone, head) and
    call `super().__init__(inputs=..., outputs=...)`; Keras turns them into
    functional models, as KerasHub's `Task` does.

    The step is Keras' own TensorFlow recipe (tape, `compute_loss`,
    `optimizer.scale_loss`, `apply`), so `tf.distribute`, XLA and mixed
    precision loss scaling (outside case BR-11) stay with Keras. Use Keras
    loss objects: they divide by the replica count so that summed replica
    gradients are right (outside case BR-12). Token classification passes
    a `[batch_size, sequence_length]` 0/1 sample weight with
    `reduction="mean_with_sample_weight"` (outside case A-3); sequence
    classification a `[batch_size]` weight (e.g. class weights).
    """

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                training=True,
            )
            # The loss object divided by the replica count; the tracked loss
            # undoes that so that it reports the global mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            self._loss_tracker.update_state(
                loss * replicas, sample_weight=tf.shape(y_pred)[0]
            )
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
