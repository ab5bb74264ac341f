"""Token classification (NER, POS tagging) on a KerasHub backbone."""

import keras
import tensorflow as tf

from tfllm.layers.crf import CRF
from tfllm.layers.crf import allowed_transitions
from tfllm.layers.crf import tagging_scheme
from tfllm.layers.global_pointer import VARIANTS as SPAN_HEADS
from tfllm.layers.global_pointer import GlobalPointer
from tfllm.layers.span_decoding import decode_spans
from tfllm.layers.span_decoding import span_columns
from tfllm.layers.span_decoding import spans_to_tags
from tfllm.layers.span_decoding import tag_tables
from tfllm.models.task import Task
from tfllm.models.token_classifier_api import TokenClassifierAPI
# Registers the preprocessor class, so that `keras.models.load_model` can
# rebuild a saved model from this module alone.
import tfllm.preprocessing.token_classification_preprocessor  # noqa: F401
from tfllm.preprocessing.casing import NUM_CASING_CLASSES
from tfllm.preprocessing.lexicon import NUM_LEXICON_CLASSES
from tfllm.training.crf_loss import CRFLoss
from tfllm.training.global_pointer_loss import NEG_SCORE
from tfllm.training.global_pointer_loss import GlobalPointerLoss

HEADS = ("softmax", "crf") + SPAN_HEADS


@keras.saving.register_keras_serializable(package="tfllm")
class TokenClassifier(TokenClassifierAPI, Task):
    """A backbone with dropout and a dense head that tags every sub-token.

    High-level use (`tfllm.models.token_classifier_api`):
    `TokenClassifier.from_pretrained("minilm", labels)` builds one on a
    pretrained encoder (CRF head by default); `fit`, `evaluate` and
    `predict` take sentences (Python lists or data files) as well as
    Keras data; `export` writes a SavedModel or LiteRT bundle; `load`
    reads a run folder or `.keras` file.

    Following Devlin et al. (2019), "BERT: Pre-training of Deep Bidirectional
    Transformers for Language Understanding", Sec. 5.3, the backbone's
    `sequence_output` goes through dropout and one dense layer to per-label
    logits. With `casing_features`, a small embedding of each sub-token's word
    casing class (see `tfllm.preprocessing.casing`) is concatenated to the
    backbone output first: uncased checkpoints cannot see capitals otherwise.
    With `lexicon_features`, an embedding of each sub-token's word lexicon
    class (SoftLexicon-style B/M/E/S match flags, Ma et al. 2020; see
    `tfllm.preprocessing.lexicon`) is concatenated the same way: a
    character-level Chinese tagger then sees word boundaries.

    With `head="crf"` a linear-chain CRF (`tfllm.layers.CRF`; Lafferty et
    al. 2001, as in BERT-CRF taggers) sits on the logits, which become its
    emission scores: the model output stays the logits, the loss is the CRF
    negative log-likelihood (`tfllm.training.crf_loss.CRFLoss`) and
    `predict_word_labels` decodes each sentence's words with Viterbi. For
    IOB2 (or BIOES) labels the CRF forbids the moves the scheme forbids
    (`I-X` after `O`, ...), so decoded tags are always valid.

    With `head="global_pointer"` or `"efficient_global_pointer"` a span
    head (`tfllm.layers.GlobalPointer`; Su et al. 2022) replaces the dense
    head: the model output is a score per (start sub-token, end sub-token,
    entity type), the loss is the multilabel categorical cross-entropy
    over the spans between words' first sub-tokens, with gold spans read
    from the same IOB2 labels (`tfllm.training.global_pointer_loss`), and
    `decode_word_logits` keeps the best non-overlapping positive spans as
    IOB2 tags (`decode_word_spans` gives every span, nested ones too).

    The training step is `tfllm.models.task.Task.train_step`, Keras' own
    recipe shared by every task. The loss object should use
    a 0/1 sample weight, so padding and unlabelled sub-tokens never
    contribute to the loss: `reduction="sum"` under `tfllm.training.train`,
    which normalises the weights, or `"mean_with_sample_weight"` alone.
    The softmax head takes a sparse cross-entropy from logits, the CRF head
    a `CRFLoss` (`training_loss` gives the right one).

    Args:
        backbone: `keras_hub.models.Backbone` with a `sequence_output`
            (`[batch_size, sequence_length, hidden_dim]`).
        id2label: list of str. Label names in id order; saved with the model
            (never re-mapped on load).
        preprocessor: `TokenClassificationPreprocessor` or None. Kept with
            the model so that the tokenizer, its vocabulary and the window
            length travel with every save.
        dropout: float. Dropout rate before the head. Defaults to 0.1.
        casing_features: bool. Take `casing_ids` as an extra input.
            Defaults to True.
        casing_dim: int. Width of the casing embedding. Defaults to 16.
        lexicon_features: bool. Take `lexicon_ids` as an extra input; the
            preprocessor (if given) must compute them (its
            `lexicon_features` set). Defaults to False.
        lexicon_dim: int. Width of the lexicon embedding. Defaults to 16.
        head: str. `"softmax"` (the constructor's default): independent
            per-token labels; `"crf"` (the default of `from_pretrained`
            and `tfllm train ner`): a CRF over the logits;
            `"efficient_global_pointer"` or `"global_pointer"`: a span
            head (IOB2 labels with `B-X` and `I-X` for every type).
        head_size: int. Width of a span head's start and end vectors
            (even). Defaults to 64; unused by the other heads.

    Inputs:
        A dict with int32 `token_ids`, `padding_mask`, `segment_ids` and
        (with `casing_features`) `casing_ids` and (with `lexicon_features`)
        `lexicon_ids`, each `[batch_size, sequence_length]`.

    Returns:
        float32 logits `[batch_size, sequence_length, len(id2label)]`
        (the CRF's emission scores with `head="crf"`); for a span head,
        float32 span scores `[batch_size, sequence_length,
        sequence_length, num_types]` (start, end inclusive, type; types
        in sorted name order), unmasked.

    Raises:
        ValueError: unknown `head`, `lexicon_features` with a
            preprocessor that has no lexicon, or a span head with labels
            that are not IOB2.

    Examples:
    ```python
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64)
    model = TokenClassifier(backbone, ["O", "B-PER", "I-PER"])
    crf_model = TokenClassifier(backbone, ["O", "B-PER", "I-PER"],
                                head="crf")
    ```

    References:
        Lafferty, McCallum, Pereira (2001), "Conditional Random Fields:
        Probabilistic Models for Segmenting and Labeling Sequence Data".
        Ma, Peng, Zhang, Wei, Huang (2020), "Simplify the Usage of Lexicon
        in Chinese NER".
        Su, Murtadha, Pan, Hou, Sun, Huang, Wen, Liu (2022), "Global Pointer: Novel Efficient
        Span-based Approach for Named Entity Recognition",
        arXiv:2208.03054.
    """

    def __init__(
        self,
        backbone,
        id2label,
        preprocessor=None,
        dropout=0.1,
        casing_features=True,
        casing_dim=16,
        head="softmax",
        lexicon_features=False,
        lexicon_dim=16,
        head_size=64,
        **kwargs,
    ):
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}: {head!r}")
        if lexicon_features and preprocessor is not None and getattr(
                preprocessor, "lexicon_features", None) is None:
            raise ValueError(
                "lexicon_features=True needs a preprocessor that computes "
                "lexicon_ids: TokenClassificationPreprocessor("
                "lexicon_features='jieba' or a word list path)")
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        self.casing_embedding = None
        if casing_features:
            self.casing_embedding = keras.layers.Embedding(
                NUM_CASING_CLASSES, casing_dim, name="casing_embedding"
            )
        self.lexicon_embedding = None
        if lexicon_features:
            self.lexicon_embedding = keras.layers.Embedding(
                NUM_LEXICON_CLASSES, lexicon_dim, name="lexicon_embedding"
            )
        # Under a mixed policy the head computes in float32.
        head_dtype = "float32" if backbone.dtype_policy.name.startswith(
            "mixed") else None
        if head in SPAN_HEADS:
            tag_tables(list(id2label))  # IOB2 with B-X and I-X, or raises
            self.classifier_head = GlobalPointer(
                len(tag_tables(list(id2label))[1]), head_size,
                efficient=head == "efficient_global_pointer",
                dtype=head_dtype, name="classifier_head")
        else:
            self.classifier_head = keras.layers.Dense(
                len(id2label),
                kernel_initializer=keras.initializers.TruncatedNormal(
                    stddev=0.02),
                dtype=head_dtype,
                name="classifier_head",
            )
        # Outside the functional graph: the CRF reads the logits in the loss
        # and in `decode_word_logits`, not in `call`.
        self.crf = None
        if head == "crf":
            scheme = tagging_scheme(id2label)
            self.crf = CRF(
                len(id2label),
                allowed=None if scheme is None
                else allowed_transitions(id2label, scheme),
                name="crf",
            )

        # The pooled ([CLS]) output plays no part in token classification;
        # freezing it keeps its variables out of the optimizer.
        if getattr(backbone, "pooled_dense", None) is not None:
            backbone.pooled_dense.trainable = False

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "padding_mask", "segment_ids")
        }
        backbone_inputs = dict(inputs)
        if "segment_ids" not in backbone.input:
            backbone_inputs.pop("segment_ids")
        x = backbone(backbone_inputs)["sequence_output"]
        if casing_features:
            inputs["casing_ids"] = keras.Input(
                shape=(None,), dtype="int32", name="casing_ids"
            )
            casing = self.casing_embedding(inputs["casing_ids"])
            x = keras.layers.Concatenate(name="with_casing")(
                [x, keras.ops.cast(casing, x.dtype)]
            )
        if lexicon_features:
            inputs["lexicon_ids"] = keras.Input(
                shape=(None,), dtype="int32", name="lexicon_ids"
            )
            lexicon = self.lexicon_embedding(inputs["lexicon_ids"])
            x = keras.layers.Concatenate(name="with_lexicon")(
                [x, keras.ops.cast(lexicon, x.dtype)]
            )
        x = self.head_dropout(x)
        logits = self.classifier_head(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.id2label = list(id2label)
        self.dropout = dropout
        self.casing_features = casing_features
        self.casing_dim = casing_dim
        self.head = head
        self.lexicon_features = lexicon_features
        self.lexicon_dim = lexicon_dim
        self.head_size = head_size

    @property
    def span_head(self):
        """True for a GlobalPointer head (span scores, not tag logits)."""
        return self.head in SPAN_HEADS

    def model_inputs(self, encoding):
        """Dense model inputs from a preprocessor encoding.

        Args:
            encoding: dict from `TokenClassificationPreprocessor.call`.

        Returns:
            dict of int32 `[num_windows, max_window_length]` tensors, padded
            with 0 (`padding_mask` is 0 on padding).
        """
        token_ids = encoding["token_ids"]
        inputs = {
            "token_ids": token_ids.to_tensor(),
            "padding_mask": tf.ones_like(token_ids).to_tensor(),
            "segment_ids": tf.zeros_like(token_ids).to_tensor(),
        }
        if self.casing_features:
            inputs["casing_ids"] = encoding["casing_ids"].to_tensor()
        if self.lexicon_features:
            inputs["lexicon_ids"] = encoding["lexicon_ids"].to_tensor()
        return inputs

    def predict_word_logits(self, words):
        """Logits per word for a batch of word lists, in graph ops.

        Runs the preprocessor (sub-tokens, windows), the model, and reads
        each word's logits at its first sub-token in the window that owns it.
        Used by evaluation, `predict_ner` and the serving signature alike.

        For a span head, word `i`'s entry holds the scores of the spans
        that start at it: `[max_words, num_types]`, column `j` the span to
        word `j` (inclusive), read at both words' first sub-tokens in the
        window that owns word `i`. Cells with `j < i`, `j` past the
        sentence, or `j` owned by another window (a sentence longer than
        one window) are `-1e4`.

        Args:
            words: `tf.RaggedTensor` of `tf.string`, `[batch_size, (words)]`.

        Returns:
            float32 `tf.RaggedTensor` `[batch_size, (words), num_labels]`,
            or `[batch_size, (words), max_words, num_types]` for a span
            head.

        Raises:
            ValueError: the model has no preprocessor.
        """
        if self.preprocessor is None:
            raise ValueError("predict_word_logits needs a preprocessor")
        encoding = self.preprocessor(words)
        logits = self(self.model_inputs(encoding), training=False)
        index = tf.stack(
            [
                encoding["word_window"].flat_values,
                encoding["word_position"].flat_values,
            ],
            axis=1,
        )
        word_logits = tf.cast(tf.gather_nd(logits, index), tf.float32)
        if self.span_head:  # [F, T, C] rows: read the sentence's columns
            word_logits = span_columns(encoding, word_logits)
        return encoding["word_window"].with_flat_values(word_logits)

    def decode_word_logits(self, word_logits):
        """Label ids of each sentence's words from their logits.

        The softmax head takes each word's argmax; the CRF head runs
        Viterbi over the sentence's words (padded to the longest sentence,
        masked), so the whole sentence is one path. A span head keeps the
        highest-scoring positive spans that do not overlap
        (`tfllm.layers.span_decoding.spans_to_tags`).

        Args:
            word_logits: float `tf.RaggedTensor`
                `[batch_size, (words), num_labels]` (span head:
                `[batch_size, (words), max_words, num_types]`), from
                `predict_word_logits`.

        Returns:
            int32 `tf.RaggedTensor` `[batch_size, (words)]`, with the row
            splits of `word_logits`.
        """
        if self.span_head:
            tags, _ = self.decode_word_tags(word_logits)
            return tags
        if self.crf is None:
            return word_logits.with_flat_values(tf.argmax(
                word_logits.flat_values, axis=-1, output_type=tf.int32))
        lengths = word_logits.row_lengths()
        padded = word_logits.to_tensor()  # [B, W, L]
        mask = tf.sequence_mask(lengths, tf.shape(padded)[1])
        tags, _ = self.crf.decode(padded, mask)
        return word_logits.with_flat_values(tf.boolean_mask(tags, mask))

    def decode_word_tags(self, word_logits):
        """Tag ids and a confidence per word (span head), in graph ops.

        Args:
            word_logits: span scores from `predict_word_logits`.

        Returns:
            `(tags, confidence)`: int32 and float32 `tf.RaggedTensor`
            `[batch_size, (words)]`; the confidence of an entity word is
            `sigmoid` of its span's score (see
            `tfllm.layers.span_decoding.spans_to_tags`).
        """
        lengths = word_logits.row_lengths()
        padded = word_logits.to_tensor(-NEG_SCORE)  # [B, W, W, C]
        tags, confidence = spans_to_tags(padded, lengths, self.id2label)
        mask = tf.sequence_mask(lengths, tf.shape(tags)[1])
        return (word_logits.with_flat_values(tf.boolean_mask(tags, mask)),
                word_logits.with_flat_values(
                    tf.boolean_mask(confidence, mask)))

    def decode_word_spans(self, word_logits):
        """Every entity span of a span head, nested ones included.

        Args:
            word_logits: span scores from `predict_word_logits`.

        Returns:
            dict of `tf.RaggedTensor` `[batch_size, (spans)]`: int32
            `start` and `end` word (inclusive), `type` (index into the
            sorted entity type names) and float32 `score` (> 0).

        Raises:
            ValueError: the model has no span head.
        """
        if not self.span_head:
            raise ValueError(f"decode_word_spans needs a span head, not "
                             f"head={self.head!r}")
        lengths = word_logits.row_lengths()
        return decode_spans(word_logits.to_tensor(-NEG_SCORE), lengths)

    def predict_word_labels(self, words):
        """Label ids per word for a batch of word lists, in graph ops.

        `decode_word_logits(predict_word_logits(words))`: argmax, or
        Viterbi for the CRF head. Used by evaluation, `predict_ner` and the
        serving signature.

        Args:
            words: `tf.RaggedTensor` of `tf.string`, `[batch_size, (words)]`.

        Returns:
            int32 `tf.RaggedTensor` `[batch_size, (words)]`.

        Raises:
            ValueError: the model has no preprocessor.
        """
        return self.decode_word_logits(self.predict_word_logits(words))

    def training_loss(self, reduction="sum"):
        """The loss object of this model's head.

        Args:
            reduction: str. Keras reduction; `"sum"` (default) for
                `tfllm.training.train`.

        Returns:
            Sparse cross-entropy from logits (softmax head), a `CRFLoss`
            bound to `self.crf` (CRF head) or a `GlobalPointerLoss`
            (span head).
        """
        if self.span_head:
            return GlobalPointerLoss(self.id2label, reduction=reduction)
        if self.crf is not None:
            return CRFLoss(self.crf, reduction=reduction)
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=reduction)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        """Keras' `compute_loss`; the CRF head binds its `CRFLoss` first.

        Raises:
            ValueError: a CRF model compiled without a `CRFLoss`, or a
                span head without a `GlobalPointerLoss`.
        """
        if self.span_head and not isinstance(self.loss, GlobalPointerLoss):
            raise ValueError(
                f"a TokenClassifier with head={self.head!r} trains with "
                "tfllm.training.global_pointer_loss.GlobalPointerLoss, "
                f"not {self.loss!r}")
        if self.crf is not None:
            if not isinstance(self.loss, CRFLoss):
                raise ValueError(
                    "a TokenClassifier with head='crf' trains with "
                    f"tfllm.training.crf_loss.CRFLoss, not {self.loss!r}")
            self.loss.crf = self.crf  # None after a checkpoint is loaded
        return super().compute_loss(x, y, y_pred, sample_weight, training)

    def get_config(self):
        config = super().get_config()
        config.update({
            "dropout": self.dropout,
            "casing_features": self.casing_features,
            "casing_dim": self.casing_dim,
            "head": self.head,
            "lexicon_features": self.lexicon_features,
            "lexicon_dim": self.lexicon_dim,
            "head_size": self.head_size,
        })
        return config


def build_token_classifier(
    backbone_name,
    id2label,
    sequence_length=128,
    window_overlap=None,
    casing_features=True,
    dropout=0.1,
    load_weights=True,
    word_splitter="whitespace",
    head="softmax",
    lexicon_features=None,
    head_size=64,
):
    """Loads a backbone and its tokenizer and builds a `TokenClassifier`.

    Args:
        backbone_name: str or None. See `tfllm.backbones.load_backbone`.
        id2label: list of str. Label names in id order.
        sequence_length: int. Window length in sub-tokens; capped at the
            backbone's `max_sequence_length`.
        window_overlap: int or None. See `TokenClassificationPreprocessor`.
        casing_features: bool. Feed word casing classes to the head.
        dropout: float. Head dropout; the backbone keeps its own.
        load_weights: bool. False gives random weights (tests).
        word_splitter: str. How served raw text is split into words:
            `"whitespace"` (default) or `"cjk_chars"` (Chinese); see
            `tfllm.preprocessing.word_splitter`.
        head: str. `"softmax"` (default), `"crf"`,
            `"efficient_global_pointer"` or `"global_pointer"`; see
            `TokenClassifier`.
        lexicon_features: None (default), `"jieba"` or a word list path:
            feed each word's lexicon class to the head (see
            `TokenClassificationPreprocessor`).
        head_size: int. Span heads' start/end vector width (default 64).

    Returns:
        `TokenClassifier` with its preprocessor.
    """
    from tfllm.backbones import load_backbone
    from tfllm.preprocessing.token_classification_preprocessor import (
        TokenClassificationPreprocessor,
    )

    backbone, tokenizer = load_backbone(backbone_name, load_weights)
    limit = getattr(backbone, "max_sequence_length", None)
    if limit is not None and sequence_length > limit:
        sequence_length = limit
    preprocessor = TokenClassificationPreprocessor(
        tokenizer,
        sequence_length=sequence_length,
        window_overlap=window_overlap,
        casing_features=casing_features,
        word_splitter=word_splitter,
        lexicon_features=lexicon_features,
    )
    return TokenClassifier(
        backbone,
        id2label,
        preprocessor=preprocessor,
        dropout=dropout,
        casing_features=casing_features,
        head=head,
        lexicon_features=lexicon_features is not None,
        head_size=head_size,
    )
