"""The base of tfllm's task models: one training step for every task."""

import keras

from tfllm.training.steps import symbolic_build_per_leaf
from tfllm.training.steps import train_step


class Task(keras.Model):
    """A `keras.Model` whose `train_step` every tfllm task shares.

    Subclasses build a functional graph in `__init__` (backbone, head) and
    call `super().__init__(inputs=..., outputs=...)`; Keras turns them into
    functional models, as KerasHub's `Task` does.

    The step is `tfllm.training.steps.train_step`, Keras' own TensorFlow
    recipe (tape, `compute_loss`, `optimizer.scale_loss`, `apply`), so
    `tf.distribute`, XLA and mixed precision loss scaling (outside case
    BR-11) stay with Keras. Use Keras loss objects. `tfllm.training.train`
    normalises the sample weights per optimizer update and needs
    `reduction="sum"`: the loss is then the mean over every labelled token
    (or example) of the update, across replicas (outside case BR-12) and
    accumulated micro-batches; padding has weight 0 (outside case A-3).
    """

    def train_step(self, data):
        return train_step(self, data)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        return symbolic_build_per_leaf(super(), iterator, data_batch)
