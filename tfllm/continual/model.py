"""One shared encoder with a head per task (multi-head, task-incremental).

Every task keeps its own output layer over its own label set; the encoder
is shared and is what continual learning must keep from forgetting (van de
Ven & Tolias 2019, "Three scenarios for continual learning": the
task-incremental scenario, where the task of an input is known or, for
per-task adapters, predicted by a router).
"""

import keras
import tensorflow as tf

from tfllm.continual.tasks import CLASSIFICATION


@keras.saving.register_keras_serializable(package="tfllm")
class MultiHeadModel(keras.Model):
    """A KerasHub backbone, dropout and one dense head per task.

    Text classification heads read the mean of the backbone's
    `sequence_output` over non-padding sub-tokens (Reimers & Gurevych
    2019); token classification heads read each sub-token's output.

    Args:
        backbone: `keras_hub.models.Backbone` with `sequence_output`
            `[batch_size, sequence_length, hidden_dim]`.
        kind: str. `"classification"` or `"token_classification"`.
        head_sizes: dict task name -> number of labels, in sequence order.
        dropout: float. Before the heads. Default 0.1.

    Call arguments:
        token_ids: int32 `[batch_size, sequence_length]` (0-padded).
        padding_mask: int32 or bool, same shape.
        training: bool.

    Returns (from `features`):
        float `[batch_size, hidden_dim]` (classification) or
        `[batch_size, sequence_length, hidden_dim]`; `head(name, features)`
        gives float32 logits `[..., num_labels]`.
    """

    def __init__(self, backbone, kind, head_sizes, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.kind = kind
        self.head_sizes = dict(head_sizes)
        self.dropout = float(dropout)
        self.head_dropout = keras.layers.Dropout(self.dropout)
        self.heads = [keras.layers.Dense(size, name=f"head_{name}")
                      for name, size in self.head_sizes.items()]
        self.head_index = {name: i for i, name in enumerate(self.head_sizes)}
        pooled_dense = getattr(backbone, "pooled_dense", None)
        if pooled_dense is not None:
            pooled_dense.trainable = False  # mean pooling: unused
        self._takes_segments = "segment_ids" in backbone.input
        hidden = backbone.hidden_dim
        for layer in self.heads:
            layer.build((None, hidden))
        self.built = True  # every weight exists (saving needs it)

    def features(self, token_ids, padding_mask, training=False):
        """Pooled (classification) or per-sub-token encoder outputs."""
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        if self._takes_segments:
            inputs["segment_ids"] = tf.zeros_like(token_ids)
        x = self.backbone(inputs, training=training)["sequence_output"]
        if self.kind == CLASSIFICATION:
            mask = tf.cast(tf.expand_dims(padding_mask, -1), x.dtype)
            x = tf.reduce_sum(x * mask, axis=1) / tf.maximum(
                tf.reduce_sum(mask, axis=1), tf.cast(1.0, x.dtype))
        return self.head_dropout(x, training=training)

    def head(self, index, features):
        """float32 logits of head `index` (int) over `features`."""
        return tf.cast(self.heads[index](features), tf.float32)

    def call(self, inputs, training=False):
        features = self.features(inputs["token_ids"], inputs["padding_mask"],
                                 training)
        return [self.head(i, features) for i in range(len(self.heads))]

    def head_variables(self, indices):
        """The weights of the heads at `indices`."""
        return [v for i in indices for v in self.heads[i].trainable_variables]

    def get_config(self):
        config = super().get_config()
        config.update({
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "kind": self.kind,
            "head_sizes": self.head_sizes,
            "dropout": self.dropout,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(
            config["backbone"])
        return cls(**config)
