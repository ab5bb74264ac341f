"""Raw text to words with offsets, in TensorFlow ops (training and serving).

Two modes, saved with the model (`TokenClassificationPreprocessor`'s
`word_splitter`):

- `"whitespace"` (CoNLL, the default): words are the runs of non-whitespace
  characters (tensorflow-text `WhitespaceTokenizer`).
- `"cjk_chars"` (Chinese NER, where data is labelled per character): every
  CJK ideograph is a word of its own; a run of letters (Latin, Cyrillic,
  kana, ...) is one word and a run of digits is one word, as in Chinese NER
  practice and BERT's basic tokenizer (Devlin et al. 2019, the Chinese
  character split of `tokenization.py`, whose CJK ranges are used here);
  every other character (punctuation, full-width punctuation, symbols,
  emoji) is a word of its own; whitespace separates words and is dropped.
  A combining mark (accents, the emoji variation selector U+FE0F) stays in
  the word of the character before it.

Offsets are UTF-8 byte offsets into each input string; see
`char_offsets` for Unicode code point offsets (Python `str` indices).
"""

import tensorflow as tf
import tensorflow_text as tf_text

WORD_SPLITTERS = ("whitespace", "cjk_chars")

# CJK Unified Ideographs and extensions, CJK Compatibility Ideographs: the
# ranges of BERT's `_is_chinese_char` (google-research/bert tokenization.py).
CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)

# Character classes of the "cjk_chars" splitter.
_SPACE, _CJK, _LETTER, _DIGIT, _MARK, _OTHER = range(6)
_SPACE_PATTERN = r"[\p{Z}\t\n\v\f\r\x{1c}-\x{1f}\x{85}]"


def check_word_splitter(word_splitter):
    """Raises `ValueError` unless `word_splitter` is in `WORD_SPLITTERS`."""
    if word_splitter not in WORD_SPLITTERS:
        raise ValueError(
            f"word_splitter must be one of {WORD_SPLITTERS}, got "
            f"{word_splitter!r}"
        )


def _character_classes(chars, codepoints):
    """Class of each character (flat string and int32 tensors `[C]`)."""
    cjk = tf.zeros_like(codepoints, tf.bool)
    for low, high in CJK_RANGES:
        cjk |= (codepoints >= low) & (codepoints <= high)
    classes = tf.fill(tf.shape(codepoints), _OTHER)
    rules = (
        (_MARK, tf.strings.regex_full_match(chars, r"\p{M}")),
        (_DIGIT, tf.strings.regex_full_match(chars, r"\p{N}")),
        (_LETTER, tf.strings.regex_full_match(chars, r"\p{L}")),
        (_CJK, cjk),
        (_SPACE, tf.strings.regex_full_match(chars, _SPACE_PATTERN)),
    )
    for value, match in rules:  # later rules win
        classes = tf.where(match, value, classes)
    return classes


def _split_cjk_chars(text):
    """The `"cjk_chars"` split; see the module docstring."""
    codepoints, byte_starts = tf.strings.unicode_decode_with_offsets(
        text, "UTF-8", errors="replace"
    )
    codepoints = codepoints.with_row_splits_dtype(tf.int64)
    chars = tf.strings.unicode_split(text, "UTF-8", errors="replace")
    flat_cp = codepoints.flat_values  # [C]
    num_chars = tf.shape(flat_cp)[0]
    row = tf.cast(codepoints.value_rowids(), tf.int32)  # [C]
    index = tf.range(num_chars)
    row_first = tf.equal(
        index, tf.gather(tf.cast(codepoints.row_starts(), tf.int32), row)
    )
    # Byte end of each character: the next one's start, or the text's end.
    flat_starts = tf.cast(byte_starts.flat_values, tf.int32)
    text_bytes = tf.strings.length(text)  # [B]
    next_start = tf.concat([flat_starts[1:], [0]], 0)
    next_in_row = tf.concat([~row_first[1:], [False]], 0)
    flat_ends = tf.where(next_in_row, next_start, tf.gather(text_bytes, row))

    kind = _character_classes(chars.flat_values, flat_cp)
    previous_kind = tf.concat([[_SPACE], kind[:-1]], 0)
    previous_kind = tf.where(row_first, _SPACE, previous_kind)
    # A mark with nothing before it in its word is a word of its own.
    kind = tf.where(
        tf.equal(kind, _MARK) & tf.equal(previous_kind, _SPACE), _OTHER, kind
    )
    # Marks take the class of the character they follow (their anchor).
    is_anchor = tf.not_equal(kind, _MARK)
    anchor = tf.cumsum(tf.cast(is_anchor, tf.int32)) - 1
    effective = tf.gather(tf.boolean_mask(kind, is_anchor), anchor)
    previous_effective = tf.concat([[_SPACE], effective[:-1]], 0)
    previous_effective = tf.where(row_first, _SPACE, previous_effective)
    is_space = tf.equal(kind, _SPACE)
    runs = tf.equal(kind, _LETTER) | tf.equal(kind, _DIGIT)
    continues = tf.equal(kind, _MARK) | (
        runs & tf.equal(previous_effective, kind)
    )
    starts_word = ~is_space & ~continues
    word = tf.cumsum(tf.cast(starts_word, tf.int32)) - 1  # [C]
    num_words = tf.reduce_sum(tf.cast(starts_word, tf.int32))
    in_word = ~is_space
    word_start = tf.boolean_mask(flat_starts, starts_word)  # [W]
    word_end = tf.math.unsorted_segment_max(
        tf.boolean_mask(flat_ends, in_word),
        tf.boolean_mask(word, in_word),
        num_words,
    )
    word_row = tf.boolean_mask(row, starts_word)
    words = tf.strings.substr(
        tf.gather(text, word_row), word_start, word_end - word_start
    )
    nrows = tf.shape(text, out_type=tf.int64)[0]

    def per_text(values):
        return tf.RaggedTensor.from_value_rowids(
            values, tf.cast(word_row, tf.int64), nrows=nrows
        )

    return (
        per_text(words),
        per_text(tf.cast(word_start, tf.int64)),
        per_text(tf.cast(word_end, tf.int64)),
    )


def split_words(text, word_splitter="whitespace"):
    """Splits each text into words, with UTF-8 byte offsets.

    Args:
        text: `tf.string` `[batch]`.
        word_splitter: str, one of `WORD_SPLITTERS`. Defaults to
            `"whitespace"`.

    Returns:
        `(words, byte_starts, byte_ends)`: ragged `[batch, (words)]`
        (`tf.string`, `int64`, `int64`, row splits int64); end exclusive.

    Raises:
        ValueError: unknown `word_splitter`.
    """
    check_word_splitter(word_splitter)
    text = tf.convert_to_tensor(text, tf.string)
    if word_splitter == "cjk_chars":
        return _split_cjk_chars(text)
    tokenizer = tf_text.WhitespaceTokenizer()
    words, starts, ends = tokenizer.tokenize_with_offsets(text)
    return (
        words.with_row_splits_dtype(tf.int64),
        tf.cast(starts, tf.int64).with_row_splits_dtype(tf.int64),
        tf.cast(ends, tf.int64).with_row_splits_dtype(tf.int64),
    )


def char_offsets(text, byte_offsets):
    """Converts UTF-8 byte offsets into Unicode code point offsets.

    Args:
        text: `tf.string` `[batch]`.
        byte_offsets: int ragged `[batch, (n)]`, offsets into each text that
            fall on character boundaries.

    Returns:
        int32 ragged `[batch, (n)]`: offsets that index the Python `str`.
    """
    rows = byte_offsets.value_rowids()
    flat = tf.cast(byte_offsets.flat_values, tf.int32)
    prefix = tf.strings.substr(
        tf.gather(text, rows), tf.zeros_like(flat), flat
    )
    return byte_offsets.with_flat_values(
        tf.strings.length(prefix, unit="UTF8_CHAR")
    )


def split_texts(texts, word_splitter="whitespace", chunk_size=4096):
    """Python form of `split_words`: words and code point offsets.

    Runs the same TensorFlow ops as the serving graph, so training data and
    served text are split identically.

    Args:
        texts: list of str.
        word_splitter: str, one of `WORD_SPLITTERS`.
        chunk_size: int. Texts per call.

    Returns:
        list (one per text) of lists of `(word, start, end)`, with
        `text[start:end] == word` (Python `str` indices, end exclusive).
    """
    function = _split_function(word_splitter)
    result = []
    for begin in range(0, len(texts), chunk_size):
        chunk = list(texts[begin:begin + chunk_size])
        words, starts, ends = function(tf.constant(chunk, tf.string))
        for w, s, e in zip(words.to_list(), starts.to_list(), ends.to_list()):
            result.append([(x.decode("utf-8"), a, b)
                           for x, a, b in zip(w, s, e)])
    return result


_FUNCTIONS = {}


def _split_function(word_splitter):
    check_word_splitter(word_splitter)
    if word_splitter not in _FUNCTIONS:

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def split(text):
            words, byte_starts, byte_ends = split_words(text, word_splitter)
            return (words, char_offsets(text, byte_starts),
                    char_offsets(text, byte_ends))

        _FUNCTIONS[word_splitter] = split
    return _FUNCTIONS[word_splitter]
