"""Learners: the model side of an active learning loop.

A learner trains on the labelled items and answers the questions the query
strategies ask about the pool. The loop calls:

- `fit(inputs, labels, warm_start=False)`: train (a fresh model from the
  pretrained weights unless `warm_start`, then continue the last one);
- `evaluate(inputs, labels)`: the learning-curve metric (`metric_name`);
- `predict_probabilities(inputs)`: `(probabilities, mask)`: `[N, C]` and
  None for texts, `[N, W, C]` and bool `[N, W]` for sentences;
- `mc_dropout_probabilities(inputs, samples)`: the same with a leading
  `[T]` axis, dropout on (Gal & Ghahramani 2016, MC dropout);
- `embeddings(inputs)`: float `[N, H]` (the diversity strategy);
- `best_path_probabilities(inputs)` (CRF taggers): float `[N]`.

Predictions run batched through one `tf.function` each (preprocessor and
model in the graph), texts sorted by length to cut padding.
"""

import numpy as np


def release_model(learner):
    """Frees the learner's last model before a cold-start round builds the
    next one: without it every round's model, optimizer moments and traced
    functions stay alive (six strategies of six rounds on MiniLM grew one
    process past 15 GB). Keras' global dtype policy survives
    `clear_session`."""
    if learner.model is None:
        return
    import gc

    import keras

    policy = keras.config.dtype_policy()
    learner.model = None
    learner._functions = {}
    keras.backend.clear_session()
    gc.collect()
    keras.config.set_dtype_policy(policy)


def _length_batches(items, batch_size):
    """Index batches of `items`, shortest first (less padding)."""
    order = np.argsort([len(x) for x in items], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


class _PoolLearner:
    """What both learners keep: the settings and the model of the last
    round (see the subclasses for the arguments)."""

    def __init__(self, labels, backbone, max_length, epochs, batch_size,
                 learning_rate, seed, predict_batch_size, model_factory):
        self.labels = list(labels)
        self.backbone = backbone
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed
        self.predict_batch_size = predict_batch_size
        self.model_factory = model_factory
        self.model = None
        self._functions = {}

    def _start_round(self, warm_start):
        """A new model from the pretrained weights (the last one released)
        unless `warm_start` and there is one; traced functions reset."""
        if self.model is None or not warm_start:
            release_model(self)
            self.model = self._new_model()
        self._functions = {}


class TextClassificationLearner(_PoolLearner):
    """A `tfllm.TextClassifier` fine-tuned on the labelled texts.

    Each `fit` builds `TextClassifier.from_pretrained(backbone, labels)`
    anew (cold start, the usual protocol: every round's model depends only
    on the labelled set) and fine-tunes it with tfllm's training loop. The
    epoch kept is the best on the labelled set itself (no extra labels are
    spent on model selection). The metric is accuracy.

    Args:
        labels: list of str. Label names in id order.
        backbone: str. What `from_pretrained` takes (default `"minilm"`).
        max_length: int. Sub-tokens per text (default 64).
        epochs: int. Training epochs per round (default 5).
        batch_size: int. Training batch size (default 16).
        learning_rate: float. Peak AdamW learning rate (default 1e-4).
        seed: int. Head initialisation, dropout and shuffling (default 0).
        predict_batch_size: int. Texts per prediction call (default 128).
        model_factory: callable or None. Returns a new compiled-free
            `TextClassifier` (tests pass a tiny one); None: from_pretrained.
    """

    metric_name = "accuracy"

    def __init__(self, labels, backbone="minilm", max_length=64, epochs=5,
                 batch_size=16, learning_rate=1e-4, seed=0,
                 predict_batch_size=128, model_factory=None):
        super().__init__(labels, backbone, max_length, epochs, batch_size,
                         learning_rate, seed, predict_batch_size,
                         model_factory)

    def _new_model(self):
        if self.model_factory is not None:
            return self.model_factory()
        from tfllm.models.text_classifier import TextClassifier

        return TextClassifier.from_pretrained(
            self.backbone, self.labels, max_length=self.max_length,
            seed=self.seed)

    def fit(self, inputs, labels, warm_start=False):
        """Fine-tunes on `inputs` (list of str) and `labels` (list of str).

        Returns:
            self.
        """
        self._start_round(warm_start)
        # The best epoch is picked on (at most 64 of) the labelled items
        # themselves: the validation split must not choose the model, and
        # scoring every labelled item each epoch would cost a pass more.
        inputs, labels = list(inputs), list(labels)
        check = np.random.default_rng(self.seed).permutation(
            len(inputs))[:64]
        self.model.fit(
            inputs, labels,
            validation_data=([inputs[i] for i in check],
                             [labels[i] for i in check]),
            epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate, seed=self.seed,
            report_to="none", checkpoint_every_steps=0)
        return self

    def _function(self, kind):
        import tensorflow as tf

        if kind in self._functions:
            return self._functions[kind]
        model = self.model

        def forward(texts):
            encoding = model.preprocessor(texts, None)
            inputs = model.model_inputs(encoding)
            if kind == "embeddings":
                backbone_inputs = {k: v for k, v in inputs.items()
                                   if k in model.backbone.input}
                x = tf.cast(model.backbone(backbone_inputs, training=False)[
                    "sequence_output"], tf.float32)  # (B, T, H)
                mask = tf.cast(inputs["padding_mask"], tf.float32)[..., None]
                return tf.reduce_sum(x * mask, 1) / tf.maximum(
                    tf.reduce_sum(mask, 1), 1.0)  # (B, H)
            logits = model(inputs, training=kind == "dropout")
            return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)

        function = tf.function(
            forward, input_signature=[tf.TensorSpec([None], tf.string)])
        self._functions[kind] = function
        return function

    def _run(self, kind, texts):
        import tensorflow as tf

        texts = list(texts)
        function = self._function(kind)
        out = None
        for index in _length_batches(texts, self.predict_batch_size):
            values = function(tf.constant([texts[i] for i in index])).numpy()
            if out is None:
                out = np.zeros((len(texts),) + values.shape[1:], np.float32)
            out[index] = values
        if out is None:
            width = (len(self.labels) if kind != "embeddings"
                     else self.model.backbone.hidden_dim)
            out = np.zeros((0, width), np.float32)
        return out

    def predict_probabilities(self, inputs):
        """`(float32 [N, C] softmax probabilities, None)`."""
        return self._run("probabilities", inputs), None

    def mc_dropout_probabilities(self, inputs, samples):
        """`(float32 [T, N, C], None)`: T passes with dropout on."""
        return np.stack([self._run("dropout", inputs)
                         for _ in range(int(samples))]), None

    def embeddings(self, inputs):
        """float32 `[N, H]`: the encoder output mean-pooled over tokens."""
        return self._run("embeddings", inputs)

    def evaluate(self, inputs, labels):
        """Accuracy (float in [0, 1]) of the arg max against `labels`."""
        probabilities, _ = self.predict_probabilities(inputs)
        index = {name: i for i, name in enumerate(self.labels)}
        gold = np.array([index[label] for label in labels])
        return float(np.mean(probabilities.argmax(axis=1) == gold))


class TokenClassificationLearner(_PoolLearner):
    """A `tfllm.TokenClassifier` (NER) fine-tuned on labelled sentences.

    Inputs are word lists, labels IOB2 tag lists. Each `fit` starts from
    the pretrained encoder (cold start) unless `warm_start`; the epoch kept
    is the best on the labelled sentences. The metric is entity-level
    micro F1 (seqeval, strict IOB2). Word probabilities are the softmax of
    the word logits: a softmax head's tag distribution, and for a CRF head
    the softmax of its emission scores (not the CRF's marginals); the CRF's
    own sequence confidence is `best_path_probabilities`.

    Args:
        labels: list of str. Tag names in id order.
        backbone: str. Default `"minilm"`.
        head: str. `"crf"` (default) or `"softmax"`.
        max_length: int. Window length in sub-tokens (default 128).
        epochs: int. Default 5.
        batch_size: int. Windows per batch (default 16).
        learning_rate: float. Default 1e-4.
        seed: int. Default 0.
        predict_batch_size: int. Sentences per call (default 64).
        model_factory: callable or None. Returns a new `TokenClassifier`.
    """

    metric_name = "entity_f1"

    def __init__(self, labels, backbone="minilm", head="crf", max_length=128,
                 epochs=5, batch_size=16, learning_rate=1e-4, seed=0,
                 predict_batch_size=64, model_factory=None):
        self.head = head
        super().__init__(labels, backbone, max_length, epochs, batch_size,
                         learning_rate, seed, predict_batch_size,
                         model_factory)

    def _new_model(self):
        if self.model_factory is not None:
            return self.model_factory()
        from tfllm.models.token_classifier import TokenClassifier

        return TokenClassifier.from_pretrained(
            self.backbone, self.labels, head=self.head,
            max_length=self.max_length, seed=self.seed)

    def fit(self, inputs, labels, warm_start=False):
        """Fine-tunes on word lists `inputs` and tag lists `labels`."""
        self._start_round(warm_start)
        pairs = [(list(w), list(t)) for w, t in zip(inputs, labels)]
        self.model.fit(pairs, validation_data=pairs, epochs=self.epochs,
                       batch_size=self.batch_size,
                       learning_rate=self.learning_rate, seed=self.seed,
                       report_to="none", checkpoint_every_steps=0)
        return self

    def _function(self, kind):
        import tensorflow as tf

        if kind in self._functions:
            return self._functions[kind]
        model = self.model

        def forward(words):
            if kind == "dropout":
                encoding = model.preprocessor(words)
                logits = model(model.model_inputs(encoding), training=True)
                index = tf.stack([encoding["word_window"].flat_values,
                                  encoding["word_position"].flat_values], 1)
                word_logits = encoding["word_window"].with_flat_values(
                    tf.cast(tf.gather_nd(logits, index), tf.float32))
            else:
                word_logits = model.predict_word_logits(words)
            padded = word_logits.to_tensor()  # (B, W, C)
            mask = tf.sequence_mask(word_logits.row_lengths(),
                                    tf.shape(padded)[1])
            if kind == "best_path":
                tags, _ = model.crf.decode(padded, mask)
                return tf.exp(model.crf.log_likelihood(padded, tags, mask))
            return tf.nn.softmax(padded, axis=-1), mask

        function = tf.function(forward, input_signature=[
            tf.RaggedTensorSpec([None, None], tf.string, 1, tf.int64)])
        self._functions[kind] = function
        return function

    def _run(self, kind, sentences):
        import tensorflow as tf

        sentences = [list(s) for s in sentences]
        width = max([len(s) for s in sentences], default=0)
        num_labels = len(self.labels)
        if kind == "best_path":
            out = np.zeros(len(sentences), np.float32)
        else:
            out = np.zeros((len(sentences), width, num_labels), np.float32)
            mask = np.zeros((len(sentences), width), bool)
        function = self._function(kind)
        for index in _length_batches(sentences, self.predict_batch_size):
            words = tf.ragged.constant([sentences[i] for i in index],
                                       dtype=tf.string,
                                       row_splits_dtype=tf.int64)
            if kind == "best_path":
                out[index] = function(words).numpy()
                continue
            probabilities, batch_mask = function(words)
            w = probabilities.shape[1]
            out[index, :w] = probabilities.numpy()
            mask[index, :w] = batch_mask.numpy()
        return out if kind == "best_path" else (out, mask)

    def predict_probabilities(self, inputs):
        """`(float32 [N, W, C] word tag probabilities, bool [N, W] mask)`."""
        return self._run("probabilities", inputs)

    def mc_dropout_probabilities(self, inputs, samples):
        """`(float32 [T, N, W, C], bool [N, W])`: T passes, dropout on."""
        runs = [self._run("dropout", inputs) for _ in range(int(samples))]
        return np.stack([r[0] for r in runs]), runs[0][1]

    def best_path_probabilities(self, inputs):
        """float32 `[N]`: `P(y* | x)` of each sentence's Viterbi path.

        Raises:
            ValueError: the model has no CRF head.
        """
        if getattr(self.model, "crf", None) is None:
            raise ValueError("sequence_least_confidence needs a CRF head "
                             f"(head={self.head!r})")
        return self._run("best_path", inputs)

    def embeddings(self, inputs):
        """Not provided: the diversity strategy is for text classification.

        Raises:
            ValueError: always.
        """
        raise ValueError("kmeans_margin is implemented for text "
                         "classification only; choose another strategy")

    def evaluate(self, inputs, labels):
        """Entity-level micro F1 (seqeval, strict IOB2), in [0, 1]."""
        from tfllm.evaluation.ner_evaluator import evaluate_ner

        return float(evaluate_ner(self.model, [list(w) for w in inputs],
                                  [list(t) for t in labels],
                                  self.predict_batch_size)["f1"])
