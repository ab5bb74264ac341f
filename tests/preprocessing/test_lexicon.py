"""Lexicon (B/M/E/S word-boundary) classes and their alignment to tokens."""

import numpy as np
import pytest
import tensorflow as tf

from tfllm.data.errors import DataFormatError
from tfllm.preprocessing import lexicon
from tfllm.preprocessing.token_classification_preprocessor import (
    TokenClassificationPreprocessor,
)
from tiny import tiny_tokenizer

LEXICON = ["北京", "北京大学", "大学", "工作", "我"]


def classes(sentences, words=LEXICON, max_word_length=4):
    ragged = tf.ragged.constant(sentences, tf.string,
                                row_splits_dtype=tf.int64)
    return lexicon.lexicon_classes(
        ragged, lexicon.lexicon_table(words), max_word_length).to_list()


def reference(sentence, words, max_word_length=4):
    """The classes of one sentence, by brute force in Python."""
    begin, middle, end = (set() for _ in range(3))
    for n in range(2, max_word_length + 1):
        for i in range(len(sentence) - n + 1):
            if "".join(sentence[i:i + n]) in words:
                begin.add(i)
                end.add(i + n - 1)
                middle.update(range(i + 1, i + n - 1))
    return [1 + 8 * (i in begin) + 4 * (i in middle) + 2 * (i in end)
            + (w in words) for i, w in enumerate(sentence)]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_classes_of_each_character():
    sentence = list("我在北京大学工作") + ["Google", "😀"]
    # 我: S; 在: none; 北: B (北京, 北京大学); 京: E (北京) + M (北京大学);
    # 大: B (大学) + M; 学: E (大学, 北京大学); 工: B; 作: E; the letter run
    # and the emoji: none.
    assert classes([sentence]) == [[2, 1, 9, 7, 13, 3, 9, 3, 1, 1]]
    assert reference(sentence, set(LEXICON)) == classes([sentence])[0]


def test_ragged_batch_no_match_across_sentences():
    # "北" ends one sentence and "京" starts the next: "北京" must not match;
    # sentences shorter than the n-grams, and empty ones, are fine.
    batch = [list("我在北"), list("京大学"), [], ["我"], list("大学")]
    assert classes(batch) == [[2, 1, 1], [1, 9, 3], [], [2], [9, 3]]


def test_matches_word_ngrams_and_max_word_length():
    # A lexicon word of n characters matches n consecutive words; "Google"
    # (one word) alone is an entry; longer matches than max_word_length
    # are not tried.
    assert classes([["B", "超", "Google"]], ["B超", "Google"]) == [[9, 3, 2]]
    assert classes([list("北京大学")], ["北京大学"], 3) == [[1, 1, 1, 1]]
    assert classes([list("北京大学")], ["北京大学"], 4) == [[9, 5, 5, 3]]


def test_random_sentences_match_the_python_reference():
    rng = np.random.default_rng(0)
    alphabet = list("北京大学工作我在")
    words = {"".join(rng.choice(alphabet, n)) for n in (1, 2, 2, 3, 3, 4)
             for _ in range(6)}
    batch = [list(rng.choice(alphabet, rng.integers(0, 12)))
             for _ in range(20)]
    assert classes(batch, sorted(words)) == [
        reference(s, words) for s in batch]


def test_graph_mode_gives_the_eager_classes():
    table = lexicon.lexicon_table(LEXICON)
    spec = tf.RaggedTensorSpec([None, None], tf.string, 1, tf.int64)
    function = tf.function(lambda w: lexicon.lexicon_classes(w, table),
                           input_signature=[spec])
    batch = [list("我在北京大学工作"), []]
    ragged = tf.ragged.constant(batch, row_splits_dtype=tf.int64)
    assert function(ragged).to_list() == classes(batch)


def test_word_list_file_frequencies_and_length(tmp_path):
    path = write(tmp_path / "words.txt", "\ufeff北京 10 ns\n\n大学 2\n工作\n"
                 "北京\n北京大学 7\n北京大学生们\n")
    assert lexicon.load_lexicon(path) == ["北京", "大学", "工作", "北京大学"]
    # Below min_frequency: left out; without a frequency: kept.
    assert lexicon.load_lexicon(path, min_frequency=5) == [
        "北京", "工作", "北京大学"]
    assert lexicon.load_lexicon(str(path), max_word_length=2) == [
        "北京", "大学", "工作"]


def test_jieba_dictionary():
    words = lexicon.load_lexicon("jieba")
    # jieba 0.42.1: 132,921 words of 1-4 characters with count >= 5.
    assert len(words) == 132921
    assert {"北京", "北京大学", "大学", "工作", "我"} <= set(words)
    assert max(len(w) for w in words) == 4
    assert len(lexicon.load_lexicon("jieba", min_frequency=3)) > 3e5


@pytest.mark.parametrize("text, where, match", [
    ("北京 10\n大学 1 n x\n", ":2:", "got 4 fields"),
    ("北京 10\n工作\n大学 many\n", ":3:", "non-negative integer"),
    ("北京 -3\n", ":1:", "non-negative integer"),
])
def test_malformed_line_names_file_and_line(tmp_path, text, where, match):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(DataFormatError, match=match) as error:
        lexicon.load_lexicon(path)
    assert str(error.value).startswith(f"{path}{where} ")


def test_empty_missing_and_non_utf8_files(tmp_path):
    for text in ("", "\n  \n"):
        path = write(tmp_path / "empty.txt", text)
        with pytest.raises(DataFormatError, match="no lexicon words"):
            lexicon.load_lexicon(path)
    path = write(tmp_path / "rare.txt", "北京 1\n")
    with pytest.raises(DataFormatError, match=r"rare.txt: .*frequency >= 2"):
        lexicon.load_lexicon(path, min_frequency=2)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        lexicon.load_lexicon(tmp_path / "missing.txt")
    (tmp_path / "gbk.txt").write_bytes("北京\n".encode("gbk"))
    with pytest.raises(DataFormatError, match="gbk.txt: not UTF-8"):
        lexicon.load_lexicon(tmp_path / "gbk.txt")
    with pytest.raises(ValueError, match="lexicon_features must be"):
        TokenClassificationPreprocessor(tiny_tokenizer(), lexicon_features=1)


def lexicon_preprocessor(tmp_path, sequence_length, words):
    path = write(tmp_path / "lexicon.txt", "\n".join(words) + "\n")
    return TokenClassificationPreprocessor(
        tiny_tokenizer(), sequence_length, lexicon_features=str(path))


def test_every_sub_token_gets_its_word_class(tmp_path):
    # "Zorbex" is two sub-tokens (zor ##bex), "Kowalski" three; CJK
    # characters are [UNK]. Lookups use the words as given (not lower-
    # cased by the tokenizer).
    preprocessor = lexicon_preprocessor(tmp_path, 16, ["北京"])
    preprocessor.set_lexicon(["Zorbex", "Zorbex北", "北京", "anna"])
    encoding = preprocessor(tf.ragged.constant(
        [["Zorbex", "北", "京", "Kowalski", "Anna"]], row_splits_dtype=tf.int64))
    assert encoding["window_word_index"].to_list() == [
        [-1, 0, 0, 1, 2, 3, 3, 3, 4, -1]]
    # Zorbex: S + B (Zorbex北); 北: E + B (北京); 京: E; Kowalski, Anna: none.
    assert encoding["lexicon_ids"].to_list() == [
        [0, 10, 10, 11, 3, 1, 1, 1, 1, 0]]


def test_long_sentence_windows_carry_the_classes(tmp_path):
    words = ["北京", "大学", "工作", "北京大学", "我"]
    preprocessor = lexicon_preprocessor(tmp_path, 8, words)  # 6 per window
    sentences = [list("我在北京大学工作") * 3 + ["Zorbex"], list("北京")]
    encoding = preprocessor(tf.ragged.constant(
        sentences, row_splits_dtype=tf.int64))
    assert encoding["lexicon_ids"].nrows() > 5  # several windows
    expected = [c for s in sentences for c in reference(s, set(words))]
    word_index = encoding["window_word_index"].flat_values.numpy()
    got = encoding["lexicon_ids"].flat_values.numpy()
    assert got.tolist() == [0 if i < 0 else expected[i] for i in word_index]
    assert encoding["lexicon_ids"].row_lengths().numpy().tolist() == (
        encoding["token_ids"].row_lengths().numpy().tolist())


def test_config_round_trip_and_old_configs(tmp_path):
    preprocessor = lexicon_preprocessor(tmp_path, 16, LEXICON)
    config = preprocessor.get_config()
    assert config["lexicon_features"] == str(tmp_path / "lexicon.txt")
    config["tokenizer"] = preprocessor.tokenizer  # its vocabulary is an asset
    rebuilt = TokenClassificationPreprocessor.from_config(config)
    batch = tf.ragged.constant([list("我在北京大学工作")],
                               row_splits_dtype=tf.int64)
    assert rebuilt(batch)["lexicon_ids"].to_list() == (
        preprocessor(batch)["lexicon_ids"].to_list())
    del config["lexicon_features"]  # saved before the feature existed
    old = TokenClassificationPreprocessor.from_config(config)
    assert old.lexicon_features is None
    assert "lexicon_ids" not in old(batch)
    # The file is gone and nothing else carries the words: a clear error.
    config["lexicon_features"] = str(tmp_path / "gone.txt")
    orphan = TokenClassificationPreprocessor.from_config(config)
    with pytest.raises(ValueError, match="no lexicon loaded"):
        orphan(batch)
