"""Words to sub-token windows, and word labels to sub-token labels.

This is the one place where tfllm maps words to sub-tokens and back. It runs
in TensorFlow ops, so the same code prepares training data and runs inside
the exported serving graph.

Alignment (Devlin et al. 2019, Sec. 5.3; Hugging Face `run_ner`): each word
is split into sub-tokens by the backbone's own tokenizer; the first sub-token
of a word carries the word's label and the prediction for the word, the
other sub-tokens are left out of the loss (or, with `label_all_tokens`, get
the word's label with `B-X` turned into `I-X`, so a continuation sub-token
is never `B-X`).

Long sentences: a sentence with more than
`sequence_length - 2` sub-tokens is cut into overlapping windows of
`sequence_length - 2` sub-tokens (plus `[CLS]` and `[SEP]`), the stride
being `sequence_length - 2 - window_overlap`. Every sub-token is *owned* by
exactly one window, the one in which it sits furthest from the cut edges;
a word is predicted, and trained, in the window that owns its first
sub-token. No word is dropped or truncated.
"""

import os

import keras
import tensorflow as tf

from tfllm.preprocessing.casing import SPECIAL
from tfllm.preprocessing.casing import casing_classes
from tfllm.preprocessing.lexicon import MAX_WORD_LENGTH
from tfllm.preprocessing.lexicon import check_lexicon_source
from tfllm.preprocessing.lexicon import lexicon_classes
from tfllm.preprocessing.lexicon import lexicon_table
from tfllm.preprocessing.lexicon import load_lexicon
from tfllm.preprocessing.word_splitter import check_word_splitter


METASPACE = "\u2581"  # SentencePiece's word-start marker
LEXICON_ASSET = "lexicon.txt"  # the lexicon words in a `.keras` file


def unknown_token_id(tokenizer):
    """The id a tokenizer gives to text outside its vocabulary.

    Args:
        tokenizer: a KerasHub tokenizer: `unk_token_id` (SentencePiece,
            e.g. XLM-RoBERTa's `<unk>`), else the id of `oov_token`
            (WordPiece), else of `[UNK]`.

    Returns:
        int.
    """
    value = getattr(tokenizer, "unk_token_id", None)
    if value is not None:
        return int(value)
    return int(tokenizer.token_to_id(
        getattr(tokenizer, "oov_token", "[UNK]")))


def _ceil_div(a, b):
    return -tf.math.floordiv(-a, b)


class _SpecialTokens:
    """Adds a first and a last element to every row of a ragged partition.

    Built from flat values only (element-wise ops between ragged tensors
    trace a dynamic-shape broadcast that costs seconds per trace).

    Args:
        row_splits: int64 `[rows + 1]`, the partition of the inner values.
    """

    def __init__(self, row_splits):
        rows = tf.size(row_splits, tf.int64) - 1
        self.splits = row_splits + 2 * tf.range(rows + 1)
        lengths = self.splits[1:] - self.splits[:-1]
        row = tf.repeat(tf.range(rows), lengths)
        position = tf.range(self.splits[-1]) - tf.gather(self.splits, row)
        self.is_start = tf.equal(position, 0)
        self.is_end = tf.equal(position, tf.gather(lengths, row) - 1)
        self.source = tf.where(
            self.is_start | self.is_end,
            row_splits[-1],  # a filler appended to the values
            tf.gather(row_splits, row) + position - 1,
        )

    def __call__(self, values, start_value, end_value):
        start = tf.constant(start_value, values.dtype)
        end = tf.constant(end_value, values.dtype)
        filled = tf.gather(tf.concat([values, [start]], 0), self.source)
        filled = tf.where(
            self.is_start, start, tf.where(self.is_end, end, filled)
        )
        return tf.RaggedTensor.from_row_splits(
            filled, self.splits, validate=False
        )


def bare_metaspace_id(tokenizer):
    """Id of SentencePiece's lone word-start piece `▁` (U+2581), or None.

    Args:
        tokenizer: a KerasHub tokenizer.

    Returns:
        int, or None for tokenizers without SentencePiece's `proto`
        (WordPiece, byte-level BPE) or whose vocabulary lacks the piece.
    """
    if not hasattr(tokenizer, "proto"):
        return None  # WordPiece and byte-level BPE have no such piece
    try:
        piece = tokenizer.token_to_id(METASPACE)
    except (KeyError, ValueError):
        return None
    if piece is None or int(piece) == unknown_token_id(tokenizer):
        return None
    return int(piece)


@keras.saving.register_keras_serializable(package="tfllm")
class TokenClassificationPreprocessor(keras.layers.Layer):
    """Turns a batch of word lists into model inputs for token classification.

    Args:
        tokenizer: `keras_hub.tokenizers.Tokenizer`. The backbone's tokenizer
            (WordPiece for BERT; it lower-cases when the checkpoint is
            uncased). It must define `cls_token_id`/`start_token_id`,
            `sep_token_id`/`end_token_id` and an out-of-vocabulary token.
        sequence_length: int. Window length in sub-tokens, special tokens
            included. Defaults to 128. Must be at least 3.
        window_overlap: int or None. Sub-tokens shared by two consecutive
            windows of a long sentence. None (default) means
            `(sequence_length - 2) // 4`. Must be below `sequence_length - 2`.
        casing_features: bool. Also return `casing_ids`, each sub-token's
            word casing class (`tfllm.preprocessing.casing`). Default True.
        word_splitter: str. How the serving graph splits raw text into
            words before tokenization
            (`tfllm.export.ner_serving.make_serving_fn`):
            `"whitespace"` (default, CoNLL) or `"cjk_chars"` (one word per
            CJK character, runs of letters or digits stay words; see
            `tfllm.preprocessing.word_splitter`). Saved with the model, so
            training data and served text are split alike.
        lexicon_features: None (default), `"jieba"` or a file path. Also
            return `lexicon_ids`, each sub-token's word lexicon class: the
            SoftLexicon-style B/M/E/S match flags of its word against this
            lexicon (`tfllm.preprocessing.lexicon`; Ma et al. 2020), in
            graph ops, so the serving graph computes them too. `"jieba"`
            is jieba's dictionary (words of count >= 5), a path a UTF-8
            word list (`load_lexicon`). The config keeps the string; the
            words themselves are saved as `lexicon.txt` among the assets
            of a `.keras` file, so a loaded model needs neither the file
            nor the same jieba version.

    Call arguments:
        words: `tf.RaggedTensor` of `tf.string`, `[batch_size, (num_words)]`.

    Returns (from `call`):
        A dict of ragged and dense tensors, with `num_windows` the total
        number of windows in the batch (one per sentence that fits):
        - `token_ids`: int32 `[num_windows, (window_length)]`.
        - `casing_ids`: int32, same shape (only with `casing_features`).
        - `lexicon_ids`: int32, same shape (only with `lexicon_features`),
          in `[0, NUM_LEXICON_CLASSES)`, 0 on special tokens.
        - `window_sentence`: int32 `[num_windows]`, sentence of each window.
        - `word_window`, `word_position`: int32 `[batch_size, (num_words)]`,
          the window and the position in it whose output is each word's
          prediction.
        - `window_word_index`: int32 `[num_windows, (window_length)]`, the
          flat word index of each sub-token, -1 on special tokens.
        - `window_first_piece`, `window_owned`: bool, same shape: the
          sub-token starts its word / is owned by this window.

    Raises:
        ValueError: `sequence_length` or `window_overlap` out of range, an
            unknown `word_splitter`, or a malformed lexicon file
            (`load_lexicon`).
        FileNotFoundError: no lexicon file at `lexicon_features`.

    Examples:
    ```python
    preprocessor = TokenClassificationPreprocessor(tokenizer, 8)
    encoding = preprocessor(tf.ragged.constant([["Zorbex", "hires"]]))
    ```
    """

    def __init__(
        self,
        tokenizer,
        sequence_length=128,
        window_overlap=None,
        casing_features=True,
        word_splitter="whitespace",
        lexicon_features=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_word_splitter(word_splitter)
        check_lexicon_source(lexicon_features)
        if sequence_length < 3:
            raise ValueError(
                f"sequence_length must be >= 3, got {sequence_length}"
            )
        if window_overlap is None:
            window_overlap = (sequence_length - 2) // 4
        if not 0 <= window_overlap < sequence_length - 2:
            raise ValueError(
                f"window_overlap must be in [0, {sequence_length - 2}) for "
                f"sequence_length {sequence_length}, got {window_overlap}"
            )
        # Keep ragged tf.string inputs as they are (no backend conversion).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.window_overlap = window_overlap
        self.casing_features = casing_features
        self.word_splitter = word_splitter
        self.lexicon_features = (
            None if lexicon_features is None else os.fspath(lexicon_features))
        object.__setattr__(self, "lexicon_words", None)
        object.__setattr__(self, "lexicon_table", None)
        if self.lexicon_features is not None:
            self.set_lexicon(load_lexicon(self.lexicon_features))
        self.built = True  # no weights of its own

    def set_lexicon(self, words):
        """Uses `words` (list of str) as the lexicon of `lexicon_ids`.

        Both `lexicon_words` and the `tf.lookup.StaticHashTable`
        `lexicon_table` are plain attributes, untracked by Keras and
        TensorFlow: a tracked list of ~10^5 strings would be wrapped, and a
        tracked table would be written into every SavedModel of the task
        model, the token-id one for TFLite included, whose converter
        refuses hash tables. The raw-text export tracks the table itself
        (`tfllm.export.versioned.write_version`).
        """
        object.__setattr__(self, "lexicon_words", list(words))
        with tf.init_scope():  # an eager resource, not one of a graph
            object.__setattr__(
                self, "lexicon_table", lexicon_table(self.lexicon_words))

    def save_assets(self, dir_path):
        """Writes the lexicon words (`.keras` saving) as `lexicon.txt`."""
        if self.lexicon_words is not None:
            path = os.path.join(dir_path, LEXICON_ASSET)
            with open(path, "w", encoding="utf-8") as file:
                file.write("\n".join(self.lexicon_words) + "\n")

    def load_assets(self, dir_path):
        """Reads the saved lexicon words (`.keras` loading), if any."""
        path = os.path.join(dir_path, LEXICON_ASSET)
        if self.lexicon_features is not None and os.path.exists(path):
            self.set_lexicon(load_lexicon(path))

    def _special_id(self, *names):
        for name in names:
            value = getattr(self.tokenizer, name, None)
            if value is not None:
                return int(value)
        raise ValueError(
            f"tokenizer {type(self.tokenizer).__name__} has none of {names}"
        )

    @tf.function(reduce_retracing=True)
    def _tokenize(self, flat_words):
        return self.tokenizer(flat_words)

    def _bare_metaspace_id(self):
        return bare_metaspace_id(self.tokenizer)

    def _word_pieces(self, flat_words):
        """Sub-token ids per word; a word with no sub-token gets `[UNK]`."""
        # KerasHub >= 0.32 tokenizers run a pure-Python path when called
        # eagerly; inside a tf.function they use their TensorFlow ops, which
        # is what this layer (and the serving graph) needs.
        pieces = self._tokenize(flat_words)
        if not isinstance(pieces, tf.RaggedTensor):
            pieces = tf.RaggedTensor.from_tensor(pieces)
        pieces = tf.cast(pieces, tf.int32)
        oov = unknown_token_id(self.tokenizer)
        # Flat-value ops only: element-wise ops between ragged tensors trace
        # a dynamic-shape broadcast that costs seconds per trace.
        metaspace = self._bare_metaspace_id()
        if metaspace is not None:
            # SentencePiece starts every word with `▁`; where `▁<char>` is
            # not a piece, the word's first sub-token is the bare `▁`, the
            # same for every word (most CJK characters in XLM-R's
            # vocabulary). The first sub-token carries the word's label and
            # prediction, so a bare `▁` followed by more pieces is dropped.
            rows = pieces.value_rowids()
            values = pieces.flat_values
            position = tf.range(tf.size(values, tf.int64)) - tf.gather(
                pieces.row_splits, rows)
            drop = (tf.equal(position, 0) & tf.equal(values, metaspace)
                    & (tf.gather(pieces.row_lengths(), rows) >= 2))
            pieces = tf.RaggedTensor.from_value_rowids(
                tf.boolean_mask(values, ~drop),
                tf.boolean_mask(rows, ~drop),
                nrows=pieces.nrows(), validate=False,
            )
        lengths = pieces.row_lengths()
        kept = tf.maximum(lengths, 1)  # an empty word keeps one `[UNK]`
        splits = tf.concat([[0], tf.cumsum(kept)], 0)
        rows = tf.repeat(tf.range(tf.size(kept, tf.int64)), kept)
        position = tf.range(splits[-1]) - tf.gather(splits, rows)
        values = pieces.flat_values
        source = tf.where(
            tf.gather(lengths, rows) == 0,
            tf.size(values, tf.int64),  # the `[UNK]` appended below
            tf.gather(pieces.row_splits, rows) + position,
        )
        values = tf.gather(tf.concat([values, [oov]], 0), source)
        return tf.RaggedTensor.from_row_splits(values, splits, validate=False)

    def call(self, words):
        if not isinstance(words, tf.RaggedTensor):
            words = tf.RaggedTensor.from_tensor(words)
        words = words.with_row_splits_dtype(tf.int64)
        length = self.sequence_length - 2  # sub-tokens per window
        stride = length - self.window_overlap
        half = self.window_overlap // 2

        # === Sub-tokens of every word, flattened over the batch ===
        flat_words = words.flat_values
        pieces = self._word_pieces(flat_words)  # [W, (P)]
        piece_counts = tf.cast(pieces.row_lengths(), tf.int32)
        tokens = pieces.flat_values  # [T]
        num_words = tf.shape(flat_words)[0]
        token_word = tf.repeat(tf.range(num_words), piece_counts)  # [T]
        token_first = tf.ragged.range(piece_counts).flat_values == 0  # [T]

        # === Sentences as sub-token sequences ===
        word_sentence = tf.cast(words.value_rowids(), tf.int32)  # [W]
        batch_size = tf.cast(words.nrows(), tf.int32)
        sentence_tokens = tf.math.unsorted_segment_sum(
            piece_counts, word_sentence, batch_size
        )  # [B]
        sentence_start = tf.cumsum(sentence_tokens, exclusive=True)  # [B]

        # === Windows ===
        num_windows = 1 + _ceil_div(
            tf.maximum(sentence_tokens - length, 0), stride
        )  # [B]
        local_window = tf.ragged.range(num_windows)  # [B, (windows)]
        window_sentence = tf.cast(local_window.value_rowids(), tf.int32)
        window_local = local_window.flat_values  # [NW]
        window_offset = window_local * stride  # start in its sentence
        window_length = tf.minimum(
            length, tf.gather(sentence_tokens, window_sentence) - window_offset
        )
        global_start = tf.gather(sentence_start, window_sentence)
        global_start += window_offset
        token_index = tf.ragged.range(
            global_start, global_start + window_length
        )  # [NW, (len)]
        window_of = tf.cast(token_index.value_rowids(), tf.int32)  # [NT]
        flat_index = token_index.flat_values  # [NT]
        position = flat_index - tf.gather(global_start, window_of)
        position += tf.gather(window_offset, window_of)  # in its sentence
        last_window = tf.gather(num_windows, window_sentence) - 1
        owner = tf.minimum(
            tf.maximum(tf.math.floordiv(position - half, stride), 0),
            tf.gather(last_window, window_of),
        )
        owned = tf.equal(owner, tf.gather(window_local, window_of))
        with_specials = _SpecialTokens(token_index.row_splits)

        cls_id = self._special_id("cls_token_id", "start_token_id")
        sep_id = self._special_id("sep_token_id", "end_token_id")
        window_word = tf.gather(token_word, flat_index)
        outputs = {
            "token_ids": with_specials(
                tf.gather(tokens, flat_index), cls_id, sep_id
            ),
            "window_sentence": window_sentence,
            "window_word_index": with_specials(window_word, -1, -1),
            "window_first_piece": with_specials(
                tf.gather(token_first, flat_index), False, False
            ),
            "window_owned": with_specials(owned, False, False),
        }
        if self.casing_features:
            word_casing = casing_classes(flat_words)
            outputs["casing_ids"] = with_specials(
                tf.gather(word_casing, window_word), SPECIAL, SPECIAL
            )
        if self.lexicon_features is not None:
            if self.lexicon_table is None:
                raise ValueError(
                    f"no lexicon loaded for {self.lexicon_features!r}: "
                    "the file was missing when the layer was rebuilt and "
                    "no saved lexicon.txt asset was found")
            word_lexicon = lexicon_classes(
                words, self.lexicon_table, MAX_WORD_LENGTH).flat_values
            outputs["lexicon_ids"] = with_specials(
                tf.gather(word_lexicon, window_word), SPECIAL, SPECIAL
            )

        # === Where each word's prediction is read ===
        word_token = tf.cumsum(piece_counts, exclusive=True)  # first piece
        word_position = word_token - tf.gather(sentence_start, word_sentence)
        word_owner = tf.clip_by_value(
            tf.math.floordiv(word_position - half, stride),
            0,
            tf.gather(num_windows, word_sentence) - 1,
        )
        window_row_start = tf.cast(local_window.row_starts(), tf.int32)
        word_window = tf.gather(window_row_start, word_sentence) + word_owner
        position_in_window = word_position - word_owner * stride + 1
        outputs["word_window"] = words.with_flat_values(word_window)
        outputs["word_position"] = words.with_flat_values(position_in_window)
        return outputs

    def align_labels(self, encoding, word_labels, inside_ids=None):
        """Sub-token labels and loss weights for the windows of `encoding`.

        Args:
            encoding: dict returned by `call` for the same batch.
            word_labels: int32 `tf.RaggedTensor` `[batch_size, (num_words)]`.
            inside_ids: None, or int list mapping each label id to the id for
                continuation sub-tokens (`tagging.inside_label_ids`). When
                given, every owned sub-token is labelled (`label_all_tokens`);
                otherwise only the first sub-token of each word.

        Returns:
            `(labels, sample_weight)`: int32 and float32 ragged tensors,
            `[num_windows, (window_length)]`. Unlabelled positions have label
            0 and weight 0.
        """
        flat_labels = tf.cast(word_labels.flat_values, tf.int32)
        word_index = encoding["window_word_index"]
        index = word_index.flat_values
        labels = tf.gather(flat_labels, tf.maximum(index, 0))
        owned = encoding["window_owned"].flat_values
        first_piece = encoding["window_first_piece"].flat_values
        if inside_ids is None:
            labelled = owned & first_piece
        else:
            inside = tf.gather(tf.constant(inside_ids, tf.int32), labels)
            labels = tf.where(first_piece, labels, inside)
            labelled = owned & (index >= 0)
        labels = tf.where(labelled, labels, tf.zeros_like(labels))
        return (
            word_index.with_flat_values(labels),
            word_index.with_flat_values(tf.cast(labelled, tf.float32)),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer": keras.saving.serialize_keras_object(
                    self.tokenizer
                ),
                "sequence_length": self.sequence_length,
                "window_overlap": self.window_overlap,
                "casing_features": self.casing_features,
                "word_splitter": self.word_splitter,
                "lexicon_features": self.lexicon_features,
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
        try:
            return cls(**config)
        except (FileNotFoundError, ModuleNotFoundError):
            # The lexicon file (or jieba) is gone: a `.keras` file carries
            # the words, which `load_assets` reads after this; `call`
            # raises if it does not.
            source = config.get("lexicon_features")
            if source is None:
                raise
            config["lexicon_features"] = None
            layer = cls(**config)
            layer.lexicon_features = source
            return layer
