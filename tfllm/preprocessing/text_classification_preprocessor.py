"""Raw text (and text pairs) to packed sub-token sequences, in graph ops.

The same layer prepares training data and runs inside the exported serving
graph, so clients send plain strings and tokenization cannot drift between
training and serving. With `word_splitter="cjk_chars"`
each text is first split as the Chinese NER export splits it (one word per
CJK character, letter and digit runs kept whole;
`tfllm.preprocessing.word_splitter`) and re-joined with single spaces, in
the same graph.
"""

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from tfllm.preprocessing.token_classification_preprocessor import (
    bare_metaspace_id,
)
from tfllm.preprocessing.word_splitter import check_word_splitter
from tfllm.preprocessing.word_splitter import split_words


@keras.saving.register_keras_serializable(package="tfllm")
class TextClassificationPreprocessor(keras.layers.Layer):
    """Tokenizes, truncates and packs texts as `[CLS] a [SEP] (b [SEP])`.

    Like KerasHub's `TextClassifierPreprocessor` with a `MultiSegmentPacker`,
    but it returns ragged tensors (no padding) so that the `tf.data`
    pipeline can bucket by length, and it never fails on an empty text.
    A pair is truncated round-robin (one sub-token from the longer segment
    at a time, as in BERT's `run_classifier`); the second text gets
    segment id 1.

    Args:
        tokenizer: `keras_hub.tokenizers.Tokenizer`. The backbone's tokenizer;
            it must define `cls_token_id`/`start_token_id` and
            `sep_token_id`/`end_token_id`.
        sequence_length: int. Longest packed sequence, special tokens
            included. Defaults to 128. Must be at least 4.
        word_splitter: str. `"whitespace"` (default): the text goes to the
            tokenizer as it is. `"cjk_chars"`: the text is split by
            `tfllm.preprocessing.word_splitter.split_words` and its words
            joined with single spaces first (`"我在Google北京"` is tokenized
            as `"我 在 Google 北 京"`); use it for Chinese with tokenizers
            that do not split CJK characters themselves (SentencePiece).
            With a SentencePiece tokenizer the bare word-start pieces `▁`
            that the added spaces create are dropped.
            Fixed at construction: the traced tokenizing function keeps
            the value it was traced with.

    Call arguments:
        text: `tf.string` `[batch_size]`.
        text_pair: optional `tf.string` `[batch_size]`, the second texts.

    Returns (from `call`):
        dict of int32 `tf.RaggedTensor` `[batch_size, (length)]`, with
        `length <= sequence_length`: `token_ids`, `segment_ids`,
        `padding_mask` (all ones).

    Raises:
        ValueError: `sequence_length < 4`, an unknown `word_splitter`, or
            the tokenizer has no start/end token.

    Examples:
    ```python
    preprocessor = TextClassificationPreprocessor(tokenizer, 8)
    preprocessor(tf.constant(["great movie", ""]))["token_ids"]
    # <tf.RaggedTensor [[2, 5, 6, 3], [2, 3]]>
    ```
    """

    def __init__(self, tokenizer, sequence_length=128,
                 word_splitter="whitespace", **kwargs):
        super().__init__(**kwargs)
        if sequence_length < 4:
            raise ValueError(
                f"sequence_length must be >= 4, got {sequence_length}"
            )
        check_word_splitter(word_splitter)
        # Keep tf.string inputs as they are (no backend conversion).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.word_splitter = word_splitter
        self.built = True  # no weights of its own

    def _special_id(self, *names):
        for name in names:
            value = getattr(self.tokenizer, name, None)
            if value is not None:
                return int(value)
        raise ValueError(
            f"tokenizer {type(self.tokenizer).__name__} has none of {names}"
        )

    def split_and_join(self, text):
        """The text the tokenizer sees: `text` or its words, space-joined.

        Args:
            text: `tf.string` `[batch_size]`.

        Returns:
            `tf.string` `[batch_size]`: `text` itself for `"whitespace"`;
            for `"cjk_chars"` the words of `split_words` joined by one
            space (an empty or all-space text gives `""`).
        """
        if self.word_splitter == "whitespace":
            return text
        words, _, _ = split_words(text, self.word_splitter)  # [B, (W)]
        return tf.strings.reduce_join(words, axis=-1, separator=" ")

    @tf.function(reduce_retracing=True)
    def _tokenize(self, text):
        # KerasHub >= 0.32 tokenizers run a pure-Python path when called
        # eagerly; inside a tf.function they use their TensorFlow ops.
        pieces = self.tokenizer(self.split_and_join(text))
        if not isinstance(pieces, tf.RaggedTensor):
            pieces = tf.RaggedTensor.from_tensor(pieces)
        pieces = tf.cast(pieces, tf.int32).with_row_splits_dtype(tf.int64)
        metaspace = bare_metaspace_id(self.tokenizer)
        if self.word_splitter == "cjk_chars" and metaspace is not None:
            # The spaces put between CJK characters make SentencePiece
            # start each with a bare `▁` where `▁<char>` is not a piece
            # (45% of the pieces of CLUENER dev with XLM-R's vocabulary):
            # the same piece everywhere, so it is dropped, as the NER
            # preprocessor drops it before a word's first piece.
            pieces = tf.ragged.boolean_mask(
                pieces, tf.not_equal(pieces, metaspace))
        return pieces

    def call(self, text, text_pair=None):
        text = tf.reshape(tf.convert_to_tensor(text, tf.string), [-1])
        segments = [self._tokenize(text)]
        if text_pair is not None:
            text_pair = tf.reshape(
                tf.convert_to_tensor(text_pair, tf.string), [-1]
            )
            segments.append(self._tokenize(text_pair))
        budget = self.sequence_length - 1 - len(segments)
        trimmed = tf_text.RoundRobinTrimmer(budget).trim(segments)
        token_ids, segment_ids = tf_text.combine_segments(
            trimmed,
            start_of_sequence_id=self._special_id(
                "cls_token_id", "start_token_id"
            ),
            end_of_segment_id=self._special_id("sep_token_id", "end_token_id"),
        )
        token_ids = tf.cast(token_ids, tf.int32)
        return {
            "token_ids": token_ids,
            "segment_ids": tf.cast(segment_ids, tf.int32),
            "padding_mask": tf.ones_like(token_ids),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer": keras.saving.serialize_keras_object(
                    self.tokenizer
                ),
                "sequence_length": self.sequence_length,
                "word_splitter": self.word_splitter,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["tokenizer"], dict):
            config["tokenizer"] = keras.saving.deserialize_keras_object(
                config["tokenizer"]
            )
        return cls(**config)
