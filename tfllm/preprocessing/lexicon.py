"""Lexicon (word-boundary) classes of characters, computed in-graph.

Chinese NER data is labelled per character, and a character tagger on a
character-level encoder does not see where words begin and end. SoftLexicon
(Ma et al. 2020) gives every character the lexicon words that match the
sentence around it, in four sets: words that Begin at the character, have it
in the Middle, End at it, or are the character itself (Single). tfllm keeps
the simplest form of it: four binary flags, one per set (is the set empty or
not), turned into one class id per character,

    class = 1 + 8 * B + 4 * M + 2 * E + S,

so 16 classes plus 0, kept for special tokens and padding (as
`tfllm.preprocessing.casing.SPECIAL`): `NUM_LEXICON_CLASSES = 17`. The
task head embeds the class (`TokenClassifier(lexicon_features=True)`).

Matching runs in TensorFlow ops over the words the preprocessor receives
(one per CJK character with the `"cjk_chars"` splitter; a run of letters or
digits is one word): for every `n` in `2..max_word_length`, the `n`-grams of
consecutive words, joined without a separator, are looked up in a
`tf.lookup.StaticHashTable`. So the exported raw-text SavedModel computes the
classes itself, with no Python. Lookups are exact (case-sensitive): a
lexicon word matches a run of consecutive words that spells it (`"B超"`
matches the words `"B"`, `"超"`). Lexicon words of more than
`max_word_length` characters are dropped at load time, so `"Google公司"`
(8 characters, though only 3 words) never matches.

The default lexicon is jieba's dictionary (`dict.txt` of the `jieba`
package, 0.42.1, MIT licence: 349,046 words with counts). Only its data file
is read; jieba's segmenter is not used.

References:
    Ma, Peng, Zhang, Wei, Huang (2020), "Simplify the Usage of Lexicon in
    Chinese NER", ACL (SoftLexicon). Liu et al. (2021), "Lexicon Enhanced
    Chinese Sequence Labeling Using BERT Adapter", ACL (LEBERT).
"""

import importlib.resources
import os
import pathlib

import tensorflow as tf

from tfllm.data.errors import DataFormatError

JIEBA = "jieba"
# jieba 0.42.1 dict.txt, words of 1 to 4 characters: 341,996 in all;
# 132,921 have a count of at least 5 (123,107 of 2-4 characters, the rest
# single characters), about 1 MB of UTF-8 (the table builds in ~0.05 s).
# Counts 3 and 4 are the floor of the dictionary (mostly rare compounds):
# on the CLUENER2020 dev set, 66.1% of the characters lie in a match of 2-4
# characters at a count of 5 or more, 68.6% with all 303,475 words of count
# >= 3, 65.4% at 10 (102,908 words), 62.2% at 50 (51,663 words).
JIEBA_MIN_FREQUENCY = 5
MAX_WORD_LENGTH = 4

# Flag weights in the class id; 0 is kept for special tokens and padding.
BEGIN, MIDDLE, END, SINGLE = 8, 4, 2, 1
NUM_LEXICON_CLASSES = 17


def _read_lines(source):
    """`(name, lines)` of jieba's dict.txt or of a word list file."""
    if source == JIEBA:
        try:
            resource = importlib.resources.files(JIEBA) / "dict.txt"
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "lexicon 'jieba' needs the jieba package (pip install "
                "jieba==0.42.1)") from error
        name, data = f"{resource}", resource.read_bytes()
    else:
        path = pathlib.Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"lexicon file not found: {path}")
        name, data = str(path), path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataFormatError(name, None, f"not UTF-8 ({error})") from error
    return name, text.splitlines()


def load_lexicon(source=JIEBA, min_frequency=None,
                 max_word_length=MAX_WORD_LENGTH):
    """Reads a lexicon: jieba's dictionary or a word list file.

    Each non-blank line is `word [frequency] [tag]`, separated by
    whitespace (jieba's `dict.txt` and user-dictionary format); a plain list
    of words, one per line, works too.

    Args:
        source: str or path. `"jieba"` (default): `dict.txt` of the
            installed jieba package, read with `importlib.resources`;
            otherwise the path of a UTF-8 word list.
        min_frequency: int or None. Words with a frequency below it are
            left out; words without a frequency are always kept. None
            (default): `JIEBA_MIN_FREQUENCY` (5) for jieba, 0 for a file.
        max_word_length: int. Longer words (in characters) are left out:
            they could never match. Defaults to 4.

    Returns:
        list of str: the distinct words, in file order.

    Raises:
        FileNotFoundError: no file at `source`.
        ModuleNotFoundError: `"jieba"` without the jieba package.
        tfllm.data.errors.DataFormatError (a `ValueError`): the file is not
            UTF-8; a line (named as `file:line`) has more than three fields
            or a frequency that is not a non-negative integer; no word is
            left (empty file, or all filtered out).
    """
    if max_word_length < 1:  # not the file's fault: a plain ValueError
        raise ValueError(f"max_word_length must be >= 1: {max_word_length}")
    if min_frequency is None:
        min_frequency = JIEBA_MIN_FREQUENCY if source == JIEBA else 0
    name, lines = _read_lines(source)
    words = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) > 3:
            raise DataFormatError(
                name, number, "expected 'word [frequency] [tag]', got "
                f"{len(fields)} fields: {line!r}")
        if len(fields) >= 2:
            if not fields[1].isdigit():
                raise DataFormatError(
                    name, number, "the frequency must be a non-negative "
                    f"integer, got {fields[1]!r} in {line!r}")
            if int(fields[1]) < min_frequency:
                continue
        if len(fields[0]) <= max_word_length:
            words[fields[0]] = None
    if not words:
        raise DataFormatError(
            name, None, f"no lexicon words of at most {max_word_length} "
            f"characters with frequency >= {min_frequency} (empty file?)")
    return list(words)


def lexicon_table(words):
    """A `tf.lookup.StaticHashTable` mapping each word to 1 (others: 0).

    Args:
        words: list of str, e.g. from `load_lexicon`.

    Returns:
        `tf.lookup.StaticHashTable`, `tf.string` keys, int32 values.
    """
    keys = tf.constant(list(words), tf.string)
    initializer = tf.lookup.KeyValueTensorInitializer(
        keys, tf.ones_like(keys, tf.int32))
    return tf.lookup.StaticHashTable(initializer, default_value=0)


def lexicon_classes(words, table, max_word_length=MAX_WORD_LENGTH):
    """The lexicon class of every word of every sentence, in graph ops.

    Flags of word `i` of a sentence: B, a lexicon word of 2 or more words
    starts at `i`; M, one covers `i` strictly inside; E, one ends at `i`;
    S, word `i` alone is a lexicon entry. Matches never cross sentences.

    Args:
        words: `tf.RaggedTensor` of `tf.string`, `[batch_size, (num_words)]`.
        table: `tf.lookup.StaticHashTable` string -> int32, nonzero for
            lexicon words (`lexicon_table`).
        max_word_length: int. Longest match tried, in words. Defaults to 4.

    Returns:
        int32 `tf.RaggedTensor` `[batch_size, (num_words)]`, with the row
        splits of `words`, values `1 + 8 B + 4 M + 2 E + S` in
        `[1, NUM_LEXICON_CLASSES)`.

    Raises:
        TypeError: `words` is not a `tf.RaggedTensor`.

    Examples:
    ```python
    table = lexicon_table(["北京", "北京大学", "大学", "我"])
    lexicon_classes(tf.ragged.constant([list("我在北京大学")]), table)
    # [[2, 1, 9, 7, 13, 3]]: S, none, B, M+E, B+M, E
    ```
    """
    if not isinstance(words, tf.RaggedTensor):
        raise TypeError(f"words must be a tf.RaggedTensor, got {type(words)}")
    flat = words.flat_values  # [W]
    num_words = tf.shape(flat, out_type=tf.int64)[0]
    sentence_start = tf.cast(words.row_starts(), tf.int64)  # [B]
    flags = {BEGIN: [], MIDDLE: [], END: []}  # flat word indices
    for n in range(2, max_word_length + 1):
        grams = tf.strings.ngrams(words, ngram_width=n, separator="")
        rows = tf.cast(grams.value_rowids(), tf.int64)  # [G]
        first = tf.gather(sentence_start, rows) + (
            tf.range(tf.size(grams.flat_values, tf.int64))
            - tf.gather(tf.cast(grams.row_starts(), tf.int64), rows))
        first = tf.boolean_mask(first, table.lookup(grams.flat_values) > 0)
        flags[BEGIN].append(first)
        flags[END].append(first + n - 1)
        flags[MIDDLE] += [first + k for k in range(1, n - 1)]
    classes = 1 + SINGLE * tf.cast(table.lookup(flat) > 0, tf.int32)
    for weight, indices in flags.items():
        if not indices:  # max_word_length < 2 (or no middle: n == 2 only)
            continue
        index = tf.concat(indices, 0)[:, None]  # [K, 1]
        hit = tf.scatter_nd(index, tf.ones_like(index[:, 0], tf.int32),
                            tf.reshape(num_words, [1]))  # [W], counts
        classes += weight * tf.minimum(hit, 1)
    return words.with_flat_values(classes)


def check_lexicon_source(source):
    """Raises `ValueError` unless `source` is None, `"jieba"` or a path."""
    if source is None or source == JIEBA:
        return
    if not isinstance(source, (str, os.PathLike)) or not str(source):
        raise ValueError(
            f"lexicon_features must be None, 'jieba' or a file path, got "
            f"{source!r}")
