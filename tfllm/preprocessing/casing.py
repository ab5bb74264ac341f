"""Word casing classes, computed in-graph from the original word strings.

Uncased checkpoints (the offline MiniLM) lower-case their input, so "Bush"
and "bush", "US" and "us" get the same sub-tokens; capitalisation is one of
the strongest cues for named entities. tfllm therefore passes each word's
casing class to the task head, as in Reimers & Gurevych (2017), "Optimal
Hyperparameters for Deep LSTM-Networks for Sequence Labeling Tasks", Sec. 7.
"""

import tensorflow as tf

# Casing class ids. 0 is kept for special tokens and padding.
SPECIAL = 0
OTHER = 1  # no letter or digit: punctuation, symbols
NUMERIC = 2  # contains a digit
LOWER = 3  # has a lower-case letter, no upper-case letter
UPPER = 4  # at least two upper-case letters and no lower-case letter
TITLE = 5  # first character upper-case, no other upper-case letter
MIXED = 6  # other mixes of upper and lower case
UNCASED_LETTER = 7  # letters without case (CJK, Arabic, ...)
NUM_CASING_CLASSES = 8

# (class, RE2 pattern); the first full match wins.
_RULES = (
    (NUMERIC, r".*\pN.*"),
    (LOWER, r"[^\p{Lu}\p{Lt}]*\p{Ll}[^\p{Lu}\p{Lt}]*"),
    (UPPER, r"[^\p{Ll}]*[\p{Lu}\p{Lt}][^\p{Ll}]*[\p{Lu}\p{Lt}][^\p{Ll}]*"),
    (TITLE, r"[\p{Lu}\p{Lt}][^\p{Lu}\p{Lt}]*"),
    (MIXED, r".*[\p{Lu}\p{Lt}].*"),
    (UNCASED_LETTER, r".*\pL.*"),
)


def casing_classes(words):
    """Returns the casing class of each word.

    Args:
        words: string tensor of any shape (dense or ragged flat values).

    Returns:
        int32 tensor of the same shape with values in
        `[1, NUM_CASING_CLASSES)`.
    """
    words = tf.convert_to_tensor(words, dtype=tf.string)
    result = tf.fill(tf.shape(words), tf.constant(OTHER, tf.int32))
    for casing_class, pattern in reversed(_RULES):
        match = tf.strings.regex_full_match(words, pattern)
        result = tf.where(match, casing_class, result)
    return result
