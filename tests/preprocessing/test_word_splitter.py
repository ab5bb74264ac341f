"""The in-graph word splitters: words and code point offsets."""

import pytest
import tensorflow as tf

from tfllm.preprocessing.word_splitter import split_texts
from tfllm.preprocessing.word_splitter import split_words

MIXED = "我在Google北京，iPhone15很好😀！ café❤️ok\u3000５Ｇ\tx"


def test_cjk_chars_words_and_offsets():
    [words] = split_texts([MIXED], "cjk_chars")
    assert words == [
        ("我", 0, 1), ("在", 1, 2), ("Google", 2, 8), ("北", 8, 9),
        ("京", 9, 10), ("，", 10, 11), ("iPhone", 11, 17), ("15", 17, 19),
        ("很", 19, 20), ("好", 20, 21), ("😀", 21, 22), ("！", 22, 23),
        ("café", 24, 28), ("❤️", 28, 30), ("ok", 30, 32), ("５", 33, 34),
        ("Ｇ", 34, 35), ("x", 36, 37),
    ]
    for word, start, end in words:
        assert MIXED[start:end] == word


def test_cjk_chars_edge_cases():
    texts = ["", " \u3000\t", "👨\u200d👩𠀀Ok", "\u0301a", "e\u0301x 12ab"]
    result = split_texts(texts, "cjk_chars")
    assert result[0] == [] and result[1] == []
    # ZWJ emoji: one word per code point; a supplementary-plane CJK
    # character counts as one code point, as in Python.
    assert result[2] == [("👨", 0, 1), ("\u200d", 1, 2), ("👩", 2, 3),
                         ("𠀀", 3, 4), ("Ok", 4, 6)]
    assert result[3] == [("\u0301", 0, 1), ("a", 1, 2)]
    assert result[4] == [("e\u0301x", 0, 3), ("12", 4, 6), ("ab", 6, 8)]


def test_whitespace_mode_is_str_split():
    texts = ["EU rejects  German\tcall .", "Kraków 😀 Lyon", ""]
    for text, words in zip(texts, split_texts(texts, "whitespace")):
        assert [w for w, _, _ in words] == text.split()
        assert all(text[a:b] == w for w, a, b in words)


def test_byte_offsets_in_graph():
    words, starts, ends = tf.function(
        lambda t: split_words(t, "cjk_chars"))(tf.constant(["我a😀"]))
    assert words.to_list() == [["我".encode(), b"a", "😀".encode()]]
    assert starts.to_list() == [[0, 3, 4]] and ends.to_list() == [[3, 4, 8]]


def test_unknown_splitter():
    with pytest.raises(ValueError, match="word_splitter must be one of"):
        split_words(tf.constant(["a"]), "jieba")
