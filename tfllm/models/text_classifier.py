"""Sequence classification (sentiment, intents, topics) on a backbone."""

import keras
import tensorflow as tf

from tfllm.models.task import Task
from tfllm.models.text_classifier_api import TextClassifierMethods
# Registers the preprocessor class, so that `keras.models.load_model` can
# rebuild a saved model from this module alone.
import tfllm.preprocessing.text_classification_preprocessor  # noqa: F401

POOLINGS = ("mean", "pooled")


@keras.saving.register_keras_serializable(package="tfllm")
class TextClassifier(TextClassifierMethods, Task):
    """A backbone, a pooled text vector, dropout and a dense head.

    Build one with `TextClassifier.from_pretrained(backbone, labels=...)`;
    `fit`, `evaluate` and `predict` take texts and labels (or files) as well
    as Keras' tensors and `tf.data` (`tfllm.models.text_classifier_api`).

    The text vector is the backbone's `pooled_output` (the `[CLS]` state
    through BERT's pooler, Devlin et al. 2019, Sec. 4) or the mean of
    `sequence_output` over non-padding sub-tokens (Reimers & Gurevych 2019,
    "Sentence-BERT"; the training objective of sentence-transformers
    checkpoints such as MiniLM). Single-label models are trained with a
    softmax cross-entropy; multi-label models with a sigmoid per label and
    predict every label whose probability reaches its own threshold.

    Sentence pairs (entailment, paraphrase) are packed as
    `[CLS] a [SEP] b [SEP]` with segment ids 0 and 1 by the preprocessor.
    The training step is `tfllm.models.task.Task.train_step`.

    Args:
        backbone: `keras_hub.models.Backbone` with `sequence_output`
            `[batch_size, sequence_length, hidden_dim]` (and
            `pooled_output` `[batch_size, hidden_dim]` for `"pooled"`).
        id2label: list of str. Label names in id order; saved with the model
            and the export (never re-mapped on load).
        preprocessor: `TextClassificationPreprocessor` or None. Kept with the
            model so that tokenizer, vocabulary and length travel with it.
        pooling: str. `"mean"` (default) or `"pooled"`.
        dropout: float. Dropout before the head. Defaults to 0.1.
        multi_label: bool. Sigmoid per label instead of one softmax.
            Defaults to False.
        thresholds: list of float or None. Multi-label decision threshold
            per label; None means 0.5 for each.
        text_pairs: bool. The model classifies text pairs (the serving
            signature then takes `text` and `text_pair`). Default False.

    Inputs:
        A dict of int32 `token_ids`, `padding_mask`, `segment_ids`, each
        `[batch_size, sequence_length]`.

    Returns:
        float32 logits `[batch_size, len(id2label)]`.

    Raises:
        ValueError: unknown `pooling`, `"pooled"` on a backbone without a
            pooled output, or `thresholds` of the wrong length.

    Examples:
    ```python
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64)
    model = TextClassifier(backbone, ["negative", "positive"])
    ```
    """

    def __init__(
        self,
        backbone,
        id2label,
        preprocessor=None,
        pooling="mean",
        dropout=0.1,
        multi_label=False,
        thresholds=None,
        text_pairs=False,
        **kwargs,
    ):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}: {pooling!r}")
        if thresholds is None:
            thresholds = [0.5] * len(id2label)
        if len(thresholds) != len(id2label):
            raise ValueError(
                f"{len(thresholds)} thresholds for {len(id2label)} labels"
            )
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        self.classifier_head = keras.layers.Dense(
            len(id2label),
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype="float32" if backbone.dtype_policy.name.startswith(
                "mixed") else None,
            name="classifier_head",
        )
        pooled_dense = getattr(backbone, "pooled_dense", None)
        if pooling == "mean" and pooled_dense is not None:
            # Unused: keep its variables out of the optimizer.
            pooled_dense.trainable = False

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "padding_mask", "segment_ids")
        }
        backbone_inputs = dict(inputs)
        if "segment_ids" not in backbone.input:
            backbone_inputs.pop("segment_ids")
        outputs = backbone(backbone_inputs)
        if pooling == "pooled":
            if "pooled_output" not in outputs:
                raise ValueError(
                    f"{type(backbone).__name__} has no pooled_output; use "
                    "pooling='mean'"
                )
            x = outputs["pooled_output"]
        else:
            x = outputs["sequence_output"]  # (B, T, H)
            # expand_dims, not [..., None]: TFLite int8 has no kernel for a
            # strided slice with a new axis on dynamic shapes.
            mask = keras.ops.expand_dims(
                keras.ops.cast(inputs["padding_mask"], x.dtype), -1)
            x = keras.ops.sum(x * mask, axis=1) / keras.ops.maximum(
                keras.ops.sum(mask, axis=1), 1.0
            )  # (B, H)
        x = self.head_dropout(x)
        logits = self.classifier_head(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.id2label = list(id2label)
        self.pooling = pooling
        self.dropout = dropout
        self.multi_label = bool(multi_label)
        self.thresholds = [float(t) for t in thresholds]
        self.text_pairs = bool(text_pairs)

    def model_inputs(self, encoding):
        """Dense, 0-padded model inputs from a preprocessor encoding."""
        return {
            key: encoding[key].to_tensor()
            for key in ("token_ids", "padding_mask", "segment_ids")
        }

    def predict_logits(self, text, text_pair=None):
        """Logits of raw texts, in graph ops (evaluation and serving).

        Args:
            text: `tf.string` `[batch_size]`.
            text_pair: `tf.string` `[batch_size]` or None.

        Returns:
            float32 `[batch_size, num_labels]`.

        Raises:
            ValueError: the model has no preprocessor.
        """
        if self.preprocessor is None:
            raise ValueError("predict_logits needs a preprocessor")
        encoding = self.preprocessor(text, text_pair)
        logits = self(self.model_inputs(encoding), training=False)
        return tf.cast(logits, tf.float32)

    def probabilities(self, logits):
        """Softmax (single-label) or sigmoid (multi-label) of `logits`."""
        if self.multi_label:
            return tf.sigmoid(logits)
        return tf.nn.softmax(logits, axis=-1)

    def decide(self, probabilities):
        """Multi-label decisions: bool `[batch, num_labels]`, p >= threshold.

        For a single-label model, True at the arg max only.
        """
        if self.multi_label:
            return probabilities >= tf.constant(self.thresholds, tf.float32)
        top = tf.argmax(probabilities, axis=-1)
        return tf.one_hot(top, len(self.id2label), on_value=True,
                          off_value=False)

    def get_config(self):
        config = super().get_config()
        config.update({
            "pooling": self.pooling,
            "dropout": self.dropout,
            "multi_label": self.multi_label,
            "thresholds": self.thresholds,
            "text_pairs": self.text_pairs,
        })
        return config


def build_text_classifier(
    backbone_name,
    id2label,
    sequence_length=128,
    pooling="mean",
    dropout=0.1,
    multi_label=False,
    thresholds=None,
    text_pairs=False,
    load_weights=True,
    word_splitter="whitespace",
):
    """Loads a backbone and its tokenizer and builds a `TextClassifier`.

    Args:
        backbone_name: str or None. See `tfllm.backbones.load_backbone`.
        id2label: list of str. Label names in id order.
        sequence_length: int. Longest packed sequence; capped at the
            backbone's `max_sequence_length`.
        pooling, dropout, multi_label, thresholds, text_pairs: see
            `TextClassifier`.
        load_weights: bool. False gives random weights (tests).
        word_splitter: str. `"whitespace"` (default) or `"cjk_chars"`;
            see `TextClassificationPreprocessor`.

    Returns:
        `TextClassifier` with its preprocessor.

    Raises:
        ValueError: unknown `word_splitter` (and see `TextClassifier`).
    """
    from tfllm.backbones import load_backbone
    from tfllm.preprocessing.text_classification_preprocessor import (
        TextClassificationPreprocessor,
    )

    backbone, tokenizer = load_backbone(backbone_name, load_weights)
    limit = getattr(backbone, "max_sequence_length", None)
    if limit is not None and sequence_length > limit:
        sequence_length = limit
    preprocessor = TextClassificationPreprocessor(
        tokenizer, sequence_length, word_splitter)
    return TextClassifier(
        backbone,
        id2label,
        preprocessor=preprocessor,
        pooling=pooling,
        dropout=dropout,
        multi_label=multi_label,
        thresholds=thresholds,
        text_pairs=text_pairs,
    )
