"""A sentence encoder trained with the multiple-negatives ranking loss.

The loss (Henderson et al. 2017, "Efficient Natural Language Response
Suggestion for Smart Reply", Sec. 4.4; sentence-transformers'
`MultipleNegativesRankingLoss`): for a batch of `(anchor_i, positive_i)`
pairs, the similarity matrix `S[i, j] = scale * cos(anchor_i,
positive_j)` is read as logits and each row is a softmax classification
whose answer is the diagonal: every other pair's positive is a negative
("in-batch negatives"). The symmetric form (sentence-transformers'
`MultipleNegativesSymmetricRankingLoss`) averages it with the same loss on
the transposed matrix (positives retrieving anchors).

When pairs carry a group label (an intent), another pair of the same group
in the batch is not a negative: its entries are masked out of the softmax
(set to a very negative logit) instead of being pushed apart.
"""

import keras
import tensorflow as tf

# Registers the preprocessor class, so that `keras.models.load_model` can
# rebuild a saved encoder from this module alone.
import tfllm.preprocessing.text_classification_preprocessor  # noqa: F401
from tfllm.models.task import BackboneModelConfig
from tfllm.training.steps import refuse_strategies

INPUTS = ("token_ids", "padding_mask", "segment_ids")
POSITIVE_PREFIX = "positive_"
# sentence-transformers' default scale (the inverse temperature) of MNRL.
DEFAULT_SCALE = 20.0
MASKED_LOGIT = -1e9


def ranking_logits(anchor, positive, groups=None, scale=DEFAULT_SCALE):
    """The scaled similarity matrix of MNRL, same-group negatives masked.

    Args:
        anchor: float `[batch, dim]`, L2-normalised embeddings.
        positive: float `[batch, dim]`, L2-normalised; row i pairs with
            `anchor[i]`.
        groups: int `[batch]` or None. Pairs with equal group ids are not
            each other's negatives (off-diagonal entries masked).
        scale: float. Multiplies the cosine similarities (inverse
            temperature); 20 as sentence-transformers.

    Returns:
        float32 `[batch, batch]`: `scale * anchor @ positive.T`, with
        `MASKED_LOGIT` where `groups[i] == groups[j]` and `i != j`. The
        target of row i is column i.
    """
    anchor = tf.cast(anchor, tf.float32)
    positive = tf.cast(positive, tf.float32)
    logits = scale * tf.matmul(anchor, positive, transpose_b=True)  # (B, B)
    if groups is None:
        return logits
    groups = tf.reshape(groups, [-1])
    same = tf.equal(groups[:, None], groups[None, :])
    off_diagonal = tf.logical_not(tf.cast(
        tf.eye(tf.shape(groups)[0]), tf.bool))
    return tf.where(tf.logical_and(same, off_diagonal),
                    tf.constant(MASKED_LOGIT, tf.float32), logits)


@keras.saving.register_keras_serializable(package="tfllm")
class SentenceEncoder(BackboneModelConfig, keras.Model):
    """A backbone, mean pooling over non-padding tokens, L2 normalisation.

    The embedding of sentence-transformers checkpoints such as
    all-MiniLM-L6-v2 (Reimers & Gurevych 2019, "Sentence-BERT": mean
    pooling; the checkpoint's `Normalize` module), so cosine similarity is
    a dot product. `train_step` minimises the multiple-negatives ranking
    loss (module docstring) on batches whose features hold the anchors
    (`token_ids`, `padding_mask`, `segment_ids`) and the positives (the
    same keys prefixed `positive_`); the labels are the pairs' group ids
    (masking same-group negatives) and the compiled loss must be
    `keras.losses.SparseCategoricalCrossentropy(from_logits=True,
    reduction="sum")` with sample weights summing to 1 per batch (as
    `tfllm.training.train` makes them), giving the mean over pairs.

    Args:
        backbone: `keras_hub.models.Backbone` with `sequence_output`
            `[batch_size, sequence_length, hidden_dim]`.
        preprocessor: `TextClassificationPreprocessor` or None. Tokenizes
            raw text; travels with the model and its exports.
        scale: float. MNRL inverse temperature. Defaults to 20.
        symmetric: bool. Also rank anchors given each positive and average
            the two losses. Defaults to False.

    Inputs:
        dict of int32 `token_ids`, `padding_mask`, `segment_ids`, each
        `[batch_size, sequence_length]`.

    Returns:
        float32 `[batch_size, hidden_dim]` unit-length embeddings.

    Examples:
    ```python
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64)
    encoder = SentenceEncoder(backbone)
    ```
    """

    def __init__(self, backbone, preprocessor=None, scale=DEFAULT_SCALE,
                 symmetric=False, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        pooled_dense = getattr(backbone, "pooled_dense", None)
        if pooled_dense is not None:  # unused: keep it out of the optimizer
            pooled_dense.trainable = False

        # === Functional model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
                  for name in INPUTS}
        backbone_inputs = dict(inputs)
        if "segment_ids" not in backbone.input:
            backbone_inputs.pop("segment_ids")
        x = backbone(backbone_inputs)["sequence_output"]  # (B, T, H)
        mask = keras.ops.expand_dims(
            keras.ops.cast(inputs["padding_mask"], x.dtype), -1)
        x = keras.ops.sum(x * mask, axis=1) / keras.ops.maximum(
            keras.ops.sum(mask, axis=1), 1.0)  # (B, H)
        x = keras.ops.cast(x, "float32")
        x = x / keras.ops.maximum(
            keras.ops.norm(x, axis=-1, keepdims=True), 1e-12)
        super().__init__(inputs=inputs, outputs=x, **kwargs)

        # === Config ===
        self.scale = float(scale)
        self.symmetric = bool(symmetric)

    def embed(self, text):
        """Unit-length embeddings of raw texts, in graph ops (serving).

        Args:
            text: `tf.string` `[batch_size]`.

        Returns:
            float32 `[batch_size, hidden_dim]`.

        Raises:
            ValueError: the model has no preprocessor.
        """
        if self.preprocessor is None:
            raise ValueError("embed needs a preprocessor")
        encoding = self.preprocessor(text)
        inputs = {key: encoding[key].to_tensor() for key in INPUTS}
        return self(inputs, training=False)

    def train_step(self, data):
        """One MNRL step: tape, scaled loss, gradients, `optimizer.apply`.

        Keras' TensorFlow recipe (as `tfllm.training.steps.train_step`)
        with the ranking logits in place of a head. In-batch negatives
        need the whole batch, so gradient accumulation is refused.

        Raises:
            ValueError: `micro_batches > 1`, or adversarial training or
                R-Drop (`tfllm.training.steps.refuse_strategies`).
        """
        if int(getattr(self, "micro_batches", 1) or 1) > 1:
            raise ValueError("contrastive training takes its negatives from "
                             "the batch; use a larger --batch-size instead "
                             "of --grad-accum-steps")
        refuse_strategies(self, "contrastive (MNRL) training")
        x, groups, weight = keras.utils.unpack_x_y_sample_weight(data)
        batch = tf.shape(x["token_ids"])[0]
        if weight is None:
            weight = tf.fill([batch], 1.0 / tf.cast(batch, tf.float32))
        anchors = {key: x[key] for key in INPUTS}
        positives = {key: x[POSITIVE_PREFIX + key] for key in INPUTS}
        targets = tf.range(batch)
        with tf.GradientTape() as tape:
            logits = ranking_logits(self(anchors, training=True),
                                    self(positives, training=True),
                                    groups, self.scale)
            if self.symmetric:  # both directions, each half the weight
                logits = tf.concat([logits, tf.transpose(logits)], 0)
                targets = tf.concat([targets, targets], 0)
                weight = tf.concat([weight, weight], 0) / 2.0
            loss = self.compute_loss(y=targets, y_pred=logits,
                                     sample_weight=weight, training=True)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        gradients = [tf.convert_to_tensor(g)
                     if isinstance(g, tf.IndexedSlices) else g
                     for g in gradients]
        self.optimizer.apply(gradients, self.trainable_variables)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self._loss_tracker.update_state(loss * replicas, sample_weight=batch)
        return self.get_metrics_result()

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # The functional graph is built in __init__; the compiled loss is
        # built on the first step (the batch holds pairs, not model inputs).
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "symmetric": self.symmetric})
        return config


def build_sentence_encoder(backbone_name, sequence_length=64,
                           scale=DEFAULT_SCALE, symmetric=False,
                           load_weights=True):
    """Loads a backbone and its tokenizer into a `SentenceEncoder`.

    Args:
        backbone_name: str or None. See `tfllm.backbones.load_backbone`
            (`"minilm"`: all-MiniLM-L6-v2, offline).
        sequence_length: int. Longest packed sequence in sub-tokens
            (longer texts are truncated); capped at the backbone's limit.
        scale, symmetric: see `SentenceEncoder`.
        load_weights: bool. False gives random weights (tests).

    Returns:
        `SentenceEncoder` with a `TextClassificationPreprocessor`.
    """
    from tfllm.backbones import load_backbone
    from tfllm.preprocessing.text_classification_preprocessor import (
        TextClassificationPreprocessor,
    )

    backbone, tokenizer = load_backbone(backbone_name, load_weights)
    limit = getattr(backbone, "max_sequence_length", None)
    if limit is not None and sequence_length > limit:
        sequence_length = limit
    return SentenceEncoder(
        backbone, TextClassificationPreprocessor(tokenizer, sequence_length),
        scale=scale, symmetric=symmetric)


def make_pairs(texts, groups, seed=42):
    """(anchor, positive) pairs: each text with another of its group.

    Every text is an anchor once; its positive is drawn (seeded) among the
    other texts of the same group. Texts alone in their group are skipped.

    Args:
        texts: list of str.
        groups: list of hashable group keys (intents), one per text.
        seed: int.

    Returns:
        `(anchors, positives, group_ids)`: two lists of str and an int32
        array of group ids (in sorted-key order), one per pair.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    keys = sorted(set(groups))
    key_id = {key: i for i, key in enumerate(keys)}
    members = {}
    for i, key in enumerate(groups):
        members.setdefault(key, []).append(i)
    anchors, positives, ids = [], [], []
    for i, key in enumerate(groups):
        others = [j for j in members[key] if j != i]
        if not others:
            continue
        anchors.append(texts[i])
        positives.append(texts[others[rng.integers(len(others))]])
        ids.append(key_id[key])
    return anchors, positives, np.asarray(ids, np.int32)


def encode_pairs(preprocessor, anchors, positives, group_ids):
    """Encodes pairs for `tfllm.training.train` (`make_dataset`).

    Args:
        preprocessor: `TextClassificationPreprocessor`.
        anchors, positives: lists of str of equal length.
        group_ids: int `[num_pairs]`; the labels (masking same-group
            in-batch negatives in `SentenceEncoder.train_step`).

    Returns:
        `tfllm.data.pipeline.EncodedWindows` whose features hold the
        anchors' `token_ids`, `padding_mask`, `segment_ids` and the
        positives' under `positive_*`; sample weights are 1 (normalised
        per batch by the pipeline). Batches are bucketed by anchor length.
    """
    import numpy as np

    from tfllm.data.pipeline import EncodedWindows
    from tfllm.data.pipeline import encode_text_classification

    labels = np.asarray(group_ids, np.int32)
    first = encode_text_classification(preprocessor, anchors, labels)
    second = encode_text_classification(preprocessor, positives, labels)
    features = dict(first.features)
    features.update({POSITIVE_PREFIX + k: v
                     for k, v in second.features.items()})
    return EncodedWindows(features, first.labels,
                          tf.ones([len(anchors)], tf.float32))
