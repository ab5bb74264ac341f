"""Two-tower retrieval: a user tower and an item tower scored by dot product.

One model class covers the three retrieval models of tfllm:

- the ID-only two-tower of TensorFlow Recommenders' retrieval tutorial
  (`user_tower="id"`, no text): a user-id embedding against item-id
  embeddings, trained with the in-batch softmax;
- the text two-tower (`text_feature_dim > 0`): the item tower reads the
  item's text through a pre-trained language model (a `SentenceEncoder`:
  mean-pooled encoder outputs), projected and added to an optional item-id
  embedding that cold-start items do without; the user tower attends over
  (or averages) the user's last `max_history` items (causal self-attention
  as SASRec, Kang & McAuley 2018) plus user features;
- the same with ids only and an attention user tower (a SASRec-style model).

Encoder outputs of the whole catalogue are cached in the non-trainable
`item_text_features`. When the encoder is fine-tuned
(`encoder_items_per_step > 0`), each step re-encodes up to that many of the
batch's positive items with gradients and writes them back into the cache;
`RefreshItemFeatures` re-encodes the whole catalogue between epochs.

Training losses: `negatives="catalogue"` (softmax over every item seen in
training; no sampling bias) or `negatives="in_batch"` (the batch's
positives as negatives, logQ-corrected, accidental hits removed:
`tfllm.recommendation.losses`).
"""

import importlib

import keras
import numpy as np
import tensorflow as tf
from keras_hub.layers import TransformerEncoder

from tfllm.recommendation.losses import MASKED_LOGIT
from tfllm.recommendation.losses import in_batch_softmax_loss
from tfllm.training.steps import refuse_strategies

USER_TOWERS = ("attention", "mean", "id")
NEGATIVES = ("catalogue", "in_batch")


@keras.saving.register_keras_serializable(package="tfllm")
class TwoTowerRecommender(keras.Model):
    """Two-tower retrieval model with an optional language-model item tower.

    Inputs (a dict): `history` int32 `[batch, max_history]`, item indices,
    left-padded with 0 (the most recent item last); `users` int32
    `[batch]`, user indices (`num_users` for an unknown user). Training
    targets: int32 `[batch, max_history]`, the next item after each history
    position (0 where there is none); for `user_tower="id"` `[batch, 1]`.

    Args:
        num_items: int. Catalogue size; items are 1..num_items, 0 pads.
        num_users: int. Users with an id (0..num_users-1). Default 0.
        embedding_dim: int. Width of user and item vectors. Default 64.
        user_tower: str. `"attention"` (causal self-attention over the
            history), `"mean"` (running mean of the history's item vectors)
            or `"id"` (a user-id embedding). Default `"attention"`.
        max_history: int. Items of history the user tower reads. Default 50.
        num_layers: int. Self-attention blocks of the user tower. Default 2.
        num_heads: int. Attention heads per block. Default 1.
        dropout: float. Dropout of the user tower. Default 0.2.
        use_item_ids: bool. Add an item-id embedding to the item vector.
            Default True.
        text_feature_dim: int. Width of the cached encoder outputs (0: no
            text). Default 0.
        item_texts: list of str or None. The catalogue's texts (needed to
            fine-tune the encoder or to export new-item indexing).
        item_encoder: `SentenceEncoder` or None. The language model.
        encoder_items_per_step: int. Positive items re-encoded with
            gradients per step (0: the encoder stays frozen). Default 0.
        negatives: str. `"catalogue"` or `"in_batch"`. Default
            `"catalogue"`.
        logq_correction: bool. Subtract log q of in-batch negatives (Yi et
            al. 2019). Default True.
        temperature: float. Logits are scores / temperature (training only).
            Default 1.0.
        user_feature_vocab_sizes: list of int. Vocabulary size of each
            categorical user feature (index 0: unknown). Default none.
        item_id_dropout: float. Share of items whose id embedding is left
            out at each training step, so the text path learns to rank on
            its own (DropoutNet, Volkovs et al. 2017); it helps cold-start
            items. Default 0.0.
        text_hidden_dim: int. Width of a GELU hidden layer between the
            encoder output and the item vector (0: a linear projection).
            Default 0.
        item_bias: bool. Add a per-item bias to every score, from the
            item's text (and its id when it has one): the item table gets
            one more column holding the bias and user vectors a constant 1
            there, so scores stay dot products (serving and vector indexes
            are unchanged). It lets text carry an item's general appeal
            apart from who likes it. Default False.

    Raises:
        ValueError: an unknown `user_tower` or `negatives`, or `"id"` with
            `num_users` 0.
    """

    def __init__(self, num_items, num_users=0, embedding_dim=64,
                 user_tower="attention", max_history=50, num_layers=2,
                 num_heads=1, dropout=0.2, use_item_ids=True,
                 text_feature_dim=0, item_texts=None, item_encoder=None,
                 encoder_items_per_step=0, negatives="catalogue",
                 logq_correction=True, temperature=1.0,
                 user_feature_vocab_sizes=(), item_id_dropout=0.0,
                 text_hidden_dim=0, item_bias=False, **kwargs):
        super().__init__(**kwargs)
        if user_tower not in USER_TOWERS:
            raise ValueError(f"user_tower must be one of {USER_TOWERS}, got "
                             f"{user_tower!r}")
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got "
                             f"{negatives!r}")
        if user_tower == "id" and num_users < 1:
            raise ValueError("user_tower='id' needs num_users > 0")
        if not use_item_ids and not text_feature_dim:
            raise ValueError("an item tower needs item ids, text, or both")
        if encoder_items_per_step and (item_encoder is None or not item_texts):
            raise ValueError("fine-tuning the encoder needs item_encoder and "
                             "item_texts")
        self.num_items = int(num_items)
        self.num_users = int(num_users)
        self.embedding_dim = int(embedding_dim)
        self.user_tower = user_tower
        self.max_history = int(max_history)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.use_item_ids = bool(use_item_ids)
        self.text_feature_dim = int(text_feature_dim)
        self.item_texts = list(item_texts) if item_texts else None
        self.item_encoder = item_encoder
        self.encoder_items_per_step = int(encoder_items_per_step)
        self.negatives = negatives
        self.logq_correction = bool(logq_correction)
        self.temperature = float(temperature)
        self.item_id_dropout = float(item_id_dropout)
        self.text_hidden_dim = int(text_hidden_dim)
        self.item_bias = bool(item_bias)
        self.user_feature_vocab_sizes = [int(v) for v in
                                         user_feature_vocab_sizes]
        rows = self.num_items + 1

        # === Item tower ===
        self.item_id_embedding = (
            keras.layers.Embedding(rows, embedding_dim, name="item_id_embedding")
            if use_item_ids else None)
        self.text_projection = None
        if text_feature_dim:
            layers = [keras.layers.Dense(embedding_dim, name="text_output")]
            if text_hidden_dim:
                layers.insert(0, keras.layers.Dense(
                    text_hidden_dim, activation="gelu", name="text_hidden"))
            self.text_projection = keras.Sequential(
                layers, name="text_projection")
        self.text_bias = (keras.layers.Dense(1, name="text_bias")
                          if item_bias and text_feature_dim else None)
        self.item_id_bias = (
            keras.layers.Embedding(rows, 1, embeddings_initializer="zeros",
                                   name="item_id_bias")
            if item_bias and use_item_ids else None)
        # === User tower ===
        if user_tower == "id":
            self.user_id_embedding = keras.layers.Embedding(
                num_users + 1, embedding_dim, name="user_id_embedding")
        else:
            # Positions matter to self-attention only (the mean is
            # order-free).
            self.position_embedding = (
                keras.layers.Embedding(max_history, embedding_dim,
                                       name="position_embedding")
                if user_tower == "attention" else None)
            self.input_dropout = keras.layers.Dropout(dropout)
            self.blocks = [
                TransformerEncoder(
                    intermediate_dim=embedding_dim, num_heads=num_heads,
                    dropout=dropout, normalize_first=True,
                    name=f"user_block_{i}")
                for i in range(num_layers if user_tower == "attention" else 0)
            ]
            self.user_norm = keras.layers.LayerNormalization(
                epsilon=1e-8, name="user_norm")
        self.user_feature_embeddings = [
            keras.layers.Embedding(size, embedding_dim,
                                   name=f"user_feature_{i}")
            for i, size in enumerate(self.user_feature_vocab_sizes)]
        self._texts = (tf.constant(self.item_texts) if self.item_texts
                       else None)

    def build(self, input_shape=None):
        rows = self.num_items + 1
        self.item_text_features = self.add_weight(
            shape=(rows, max(self.text_feature_dim, 1)), initializer="zeros",
            trainable=False, name="item_text_features")
        self.item_id_mask = self.add_weight(
            shape=(rows,), initializer="ones", trainable=False,
            name="item_id_mask")
        self.item_log_q = self.add_weight(
            shape=(rows,), initializer="zeros", trainable=False,
            name="item_log_q")
        self.item_trained = self.add_weight(
            shape=(rows,), initializer="ones", trainable=False,
            name="item_trained")
        self.user_feature_table = self.add_weight(
            shape=(self.num_users + 1, max(len(self.user_feature_vocab_sizes),
                                           1)),
            initializer="zeros", dtype="int32", trainable=False,
            name="user_feature_table")
        if self.item_id_embedding is not None:
            self.item_id_embedding.build((None,))
        if self.text_projection is not None:
            self.text_projection.build((None, self.text_feature_dim))
        if self.text_bias is not None:
            self.text_bias.build((None, self.text_feature_dim))
        if self.item_id_bias is not None:
            self.item_id_bias.build((None,))
        if self.user_tower == "id":
            self.user_id_embedding.build((None,))
        else:
            if self.position_embedding is not None:
                self.position_embedding.build((None,))
            for block in self.blocks:
                block.build((None, self.max_history, self.embedding_dim))
            self.user_norm.build((None, None, self.embedding_dim))
        for layer in self.user_feature_embeddings:
            layer.build((None,))
        super().build(input_shape)

    @property
    def backbone(self):
        """The item encoder's backbone, or None: the variables outside it
        take `TrainingConfig.head_learning_rate`."""
        return None if self.item_encoder is None else self.item_encoder.backbone

    # --- item tower -------------------------------------------------------

    def item_vectors(self, text_features=None, training=False):
        """The item table: float32 `[num_items + 1, embedding_dim]`.

        Args:
            text_features: float tensor `[num_items + 1, text_feature_dim]`
                or None (the cache `item_text_features`).
            training: bool. Applies `item_id_dropout`.
        """
        vectors = 0.0
        dtype = self.compute_dtype
        if self.text_projection is not None:
            features = (self.item_text_features if text_features is None
                        else text_features)
            vectors = self.text_projection(tf.cast(features, dtype))
        if self.item_id_embedding is not None:
            ids = tf.cast(self.item_id_embedding.embeddings, dtype)
            mask = tf.cast(self.item_id_mask, dtype)
            if training and self.item_id_dropout and self.text_projection:
                keep = tf.random.uniform(tf.shape(mask)) >= self.item_id_dropout
                mask = mask * tf.cast(keep, mask.dtype)
            vectors = vectors + ids * mask[:, None]
        if self.item_bias:
            bias = 0.0
            if self.text_bias is not None:
                bias = self.text_bias(tf.cast(features, dtype))
            if self.item_id_bias is not None:
                bias = bias + tf.cast(self.item_id_bias.embeddings,
                                      dtype) * mask[:, None]
            vectors = tf.concat([vectors, bias], axis=-1)
        return vectors

    def text_item_vectors(self, text_features):
        """Vectors of items known only by text (new or cold items).

        Args:
            text_features: float `[n, text_feature_dim]`, encoder outputs.

        Returns:
            float32 `[n, embedding_dim]`.
        """
        features = tf.cast(text_features, self.compute_dtype)
        vectors = self.text_projection(features)
        if self.item_bias:
            vectors = tf.concat([vectors, self.text_bias(features)], axis=-1)
        return vectors

    # --- user tower -------------------------------------------------------

    def user_vectors(self, inputs, items=None, training=False):
        """User vectors after every history position.

        Args:
            inputs: dict with `history` int32 `[batch, max_history]` and
                `users` int32 `[batch]`.
            items: the item table or None (computed).
            training: bool.

        Returns:
            float32 `[batch, max_history, embedding_dim]` (`[batch, 1, d]`
            for `user_tower="id"`): position t scores the item after it.
        """
        if items is None:
            items = self.item_vectors()
        users = tf.cast(inputs["users"], tf.int32)
        extra = 0.0
        if self.user_feature_embeddings:
            features = tf.gather(self.user_feature_table, users)
            for i, layer in enumerate(self.user_feature_embeddings):
                extra = extra + layer(features[:, i])
        if self.user_tower == "id":
            return self._with_bias_column(
                (self.user_id_embedding(users) + extra)[:, None, :])
        history = tf.cast(inputs["history"], tf.int32)
        items = items[:, :self.embedding_dim]  # without the bias column
        mask = tf.cast(history > 0, items.dtype)[..., None]
        x = tf.gather(items, history) * mask
        if self.user_tower == "mean":
            total = tf.cumsum(x, axis=1)
            count = tf.maximum(tf.cumsum(mask, axis=1), 1.0)
            x = total / count
        else:
            positions = tf.range(tf.shape(history)[1])
            x = x * (self.embedding_dim ** 0.5)
            x = x + self.position_embedding(positions)[None]
            x = self.input_dropout(x, training=training) * mask
            # Causal self-attention over real items; each position also
            # sees itself so that padded rows are never fully masked.
            length = tf.shape(history)[1]
            causal = tf.linalg.band_part(tf.ones([length, length], tf.bool),
                                         -1, 0)
            keys = tf.logical_or((history > 0)[:, None, :],
                                 tf.eye(length, dtype=tf.bool)[None])
            attention_mask = tf.logical_and(causal[None], keys)
            for block in self.blocks:
                x = block(x, attention_mask=attention_mask,
                          training=training) * mask
        x = self.user_norm(x)
        if self.user_feature_embeddings:
            x = x + extra[:, None, :]
        return self._with_bias_column(x)

    def _with_bias_column(self, users):
        """Appends the constant 1 that multiplies the items' bias column."""
        if not self.item_bias:
            return users
        ones = tf.ones_like(users[..., :1])
        return tf.concat([users, ones], axis=-1)

    def call(self, inputs, training=False):
        """Scores of every item for the user after their whole history.

        Returns:
            float32 `[batch, num_items + 1]` (column 0: the padding).
        """
        items = self.item_vectors()
        users = self.user_vectors(inputs, items, training=training)
        return tf.cast(tf.matmul(users[:, -1, :], items, transpose_b=True),
                       tf.float32)

    # --- training ---------------------------------------------------------

    def _fresh_text_features(self, targets):
        """The cache with up to `encoder_items_per_step` of the batch's
        positive items re-encoded (with gradients); `(features, ids, new)`."""
        ids, _ = tf.unique(tf.boolean_mask(targets, targets > 0))
        ids = tf.random.shuffle(ids)[:self.encoder_items_per_step]
        fresh = self.item_encoder.embed(tf.gather(self._texts, ids - 1))
        fresh = tf.cast(fresh, self.item_text_features.dtype)
        features = tf.tensor_scatter_nd_update(
            tf.convert_to_tensor(self.item_text_features), ids[:, None],
            fresh)
        return features, ids, fresh

    def retrieval_loss(self, inputs, targets, training=True,
                       text_features=None):
        """Mean cross-entropy over the batch's positive (non-zero) targets.

        Args:
            inputs: model inputs (see the class docstring).
            targets: int32 `[batch, positions]`.
            training: bool.
            text_features: see `item_vectors`.

        Returns:
            float32 scalar.
        """
        items = self.item_vectors(text_features, training=training)
        users = self.user_vectors(inputs, items, training=training)
        targets = tf.cast(targets, tf.int32)
        valid = targets > 0
        queries = tf.boolean_mask(users, valid)       # [P, d]
        positives = tf.boolean_mask(targets, valid)   # [P]
        if self.negatives == "catalogue":
            logits = tf.cast(tf.matmul(queries, items, transpose_b=True),
                             tf.float32)
            logits = logits / self.temperature
            allowed = tf.logical_and(self.item_trained > 0,
                                     tf.range(self.num_items + 1) > 0)
            logits = tf.where(allowed[None, :], logits, MASKED_LOGIT)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
                positives, logits)
        else:
            candidates = tf.gather(items, positives)
            scores = tf.cast(tf.matmul(queries, candidates,
                                       transpose_b=True), tf.float32)
            log_q = (tf.gather(self.item_log_q, positives)
                     if self.logq_correction else None)
            loss = in_batch_softmax_loss(scores, positives, log_q,
                                         self.temperature)
        return tf.reduce_mean(loss)

    def train_step(self, data):
        """One optimizer update on a batch `(inputs, targets)`.

        Raises:
            ValueError: gradient accumulation (`micro_batches > 1`) with
                in-batch negatives, which need the whole batch; or
                adversarial training or R-Drop (`refuse_strategies`).
        """
        refuse_strategies(self, "two-tower retrieval training")
        inputs, targets = data[0], data[1]
        with tf.GradientTape() as tape:
            text_features = ids = fresh = None
            if self.encoder_items_per_step:
                text_features, ids, fresh = self._fresh_text_features(targets)
            loss = self.retrieval_loss(inputs, targets, True, text_features)
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        gradients = [tf.convert_to_tensor(g)
                     if isinstance(g, tf.IndexedSlices) else g
                     for g in gradients]
        self.optimizer.apply(gradients, variables)
        if ids is not None:  # refresh the cache rows just encoded
            self.item_text_features.assign(tf.tensor_scatter_nd_update(
                tf.convert_to_tensor(self.item_text_features), ids[:, None],
                tf.stop_gradient(fresh)))
        self._loss_tracker.update_state(loss)
        return self.get_metrics_result()

    def test_step(self, data):
        inputs, targets = data[0], data[1]
        loss = self.retrieval_loss(inputs, targets, training=False)
        self._loss_tracker.update_state(loss)
        return self.get_metrics_result()

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if not self.built:
            self.build()
        return None

    def training_callbacks(self):
        """Callbacks the shared trainer runs before its own: with a
        fine-tuned encoder, `RefreshItemFeatures`."""
        if self.encoder_items_per_step:
            return [RefreshItemFeatures()]
        return []

    def refresh_item_text_features(self, batch_size=128):
        """Re-encodes every item text with the current encoder into the
        cache `item_text_features`.

        Raises:
            ValueError: the model has no encoder or no item texts.
        """
        from tfllm.retrieval.embedding import embed_texts

        if self.item_encoder is None or not self.item_texts:
            raise ValueError("refreshing needs item_encoder and item_texts")
        features = embed_texts(self.item_encoder, self.item_texts, batch_size)
        self.set_item_text_features(np.concatenate(
            [np.zeros((1, features.shape[1]), np.float32), features]))

    # --- state set from the training data -------------------------------

    def set_item_statistics(self, item_counts, cold_items=()):
        """Sets log q, the items seen in training and the id mask.

        Args:
            item_counts: int array `[num_items + 1]`, training interactions
                per item.
            cold_items: int array. Items without an id embedding (ranked by
                text alone).
        """
        from tfllm.recommendation.losses import log_sampling_probabilities

        if not self.built:
            self.build()
        counts = np.asarray(item_counts)
        self.item_log_q.assign(log_sampling_probabilities(counts))
        trained = (counts > 0).astype("float32")
        trained[0] = 0.0
        self.item_trained.assign(trained)
        mask = np.ones(self.num_items + 1, "float32")
        mask[0] = 0.0
        mask[np.asarray(cold_items, int)] = 0.0
        self.item_id_mask.assign(mask)

    def set_item_text_features(self, features):
        """Stores encoder outputs `[num_items + 1, text_feature_dim]`."""
        if not self.built:
            self.build()
        self.item_text_features.assign(np.asarray(features, "float32"))

    def set_user_features(self, table):
        """Stores categorical user features int `[num_users + 1, F]`."""
        if not self.built:
            self.build()
        self.user_feature_table.assign(np.asarray(table, "int32"))

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_items": self.num_items, "num_users": self.num_users,
            "embedding_dim": self.embedding_dim,
            "user_tower": self.user_tower, "max_history": self.max_history,
            "num_layers": self.num_layers, "num_heads": self.num_heads,
            "dropout": self.dropout, "use_item_ids": self.use_item_ids,
            "text_feature_dim": self.text_feature_dim,
            "item_texts": self.item_texts,
            "item_encoder": (keras.saving.serialize_keras_object(
                self.item_encoder) if self.item_encoder is not None
                else None),
            "encoder_items_per_step": self.encoder_items_per_step,
            "negatives": self.negatives,
            "logq_correction": self.logq_correction,
            "temperature": self.temperature,
            "item_id_dropout": self.item_id_dropout,
            "text_hidden_dim": self.text_hidden_dim,
            "item_bias": self.item_bias,
            "user_feature_vocab_sizes": self.user_feature_vocab_sizes,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("item_encoder") is not None:
            # Registers SentenceEncoder (and its preprocessor) with Keras.
            importlib.import_module("tfllm.retrieval.contrastive")

            config["item_encoder"] = keras.saving.deserialize_keras_object(
                config["item_encoder"])
        return cls(**config)


class RefreshItemFeatures(keras.callbacks.Callback):
    """Re-encodes the whole catalogue at every epoch end while the encoder
    is fine-tuned, before the epoch is evaluated.

    Training steps refresh only the rows of the items they re-encode; items
    that are never a training positive (cold-start items) would otherwise
    keep the outputs of the encoder as it was before fine-tuning.

    Args:
        every_epochs: int. Refresh every this many epochs. Default 1.
    """

    def __init__(self, every_epochs=1):
        super().__init__()
        self.every_epochs = max(1, int(every_epochs))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_epochs == 0:
            self.model.refresh_item_text_features()
