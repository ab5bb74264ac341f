import pytest
import tensorflow as tf

from tfllm.preprocessing.text_classification_preprocessor import (
    TextClassificationPreprocessor,
)
from tfllm.preprocessing.word_splitter import split_texts
from tiny import tiny_cjk_tokenizer
from tiny import tiny_cls_tokenizer

# "iphone15" is one word for BERT's basic tokenizer (an unknown one); the
# cjk_chars splitter makes it "iphone" "15", both in the vocabulary.
CHINESE = ["我在iphone15，google北京", "", " \u3000 ", "北京的公司"]


def test_packs_truncates_and_keeps_empty_text():
    preprocessor = TextClassificationPreprocessor(tiny_cls_tokenizer(), 8)
    out = preprocessor(tf.constant(["Great movie", "", "great " * 50]))
    assert out["token_ids"].to_list() == [
        [2, 5, 6, 3], [2, 3], [2, 5, 5, 5, 5, 5, 5, 3]]
    assert out["segment_ids"].to_list() == [[0] * 4, [0] * 2, [0] * 8]
    assert out["padding_mask"].to_list() == [[1] * 4, [1] * 2, [1] * 8]


def test_pairs_get_segment_ids_and_round_robin_truncation():
    preprocessor = TextClassificationPreprocessor(tiny_cls_tokenizer(), 8)
    out = preprocessor(tf.constant(["great movie the a", "awful"]),
                       tf.constant(["awful plot . .", "plot"]))
    # 8 = [CLS] + 3 + [SEP] + 2 + [SEP]: the longer first text gives way.
    assert out["token_ids"].to_list() == [
        [2, 5, 6, 9, 3, 7, 8, 3], [2, 7, 3, 8, 3]]
    assert out["segment_ids"].to_list() == [
        [0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1]]


def test_config_round_trip_and_validation():
    preprocessor = TextClassificationPreprocessor(tiny_cls_tokenizer(), 16)
    clone = TextClassificationPreprocessor.from_config(
        preprocessor.get_config())
    assert clone.sequence_length == 16
    # The vocabulary travels as a saved asset (see
    # tests/inference/test_classifier.py), not in the config.
    assert clone.get_config() == preprocessor.get_config()
    assert clone.word_splitter == "whitespace"
    with pytest.raises(ValueError, match="sequence_length"):
        TextClassificationPreprocessor(tiny_cls_tokenizer(), 3)
    with pytest.raises(ValueError, match="word_splitter must be one of"):
        TextClassificationPreprocessor(tiny_cls_tokenizer(), 8, "chars")


def test_cjk_chars_config_round_trip_and_old_configs():
    preprocessor = TextClassificationPreprocessor(
        tiny_cjk_tokenizer(), 16, word_splitter="cjk_chars")
    config = preprocessor.get_config()
    assert config["word_splitter"] == "cjk_chars"
    clone = TextClassificationPreprocessor.from_config(config)
    assert clone.word_splitter == "cjk_chars"
    # A config saved before the argument existed loads as "whitespace".
    del config["word_splitter"]
    assert TextClassificationPreprocessor.from_config(
        config).word_splitter == "whitespace"


def test_cjk_chars_tokenizes_the_space_joined_words():
    cjk = TextClassificationPreprocessor(
        tiny_cjk_tokenizer(), 16, word_splitter="cjk_chars")
    whitespace = TextClassificationPreprocessor(tiny_cjk_tokenizer(), 16)
    joined = [" ".join(w for w, _, _ in words)
              for words in split_texts(CHINESE, "cjk_chars")]
    assert joined[0] == "我 在 iphone 15 ， google 北 京"
    assert joined[1:3] == ["", ""]
    assert cjk.split_and_join(tf.constant(CHINESE)).numpy().tolist() == [
        t.encode() for t in joined]
    out = cjk(tf.constant(CHINESE))
    expected = whitespace(tf.constant(joined))
    for key in ("token_ids", "segment_ids", "padding_mask"):
        assert out[key].to_list() == expected[key].to_list()
    # (The lowercasing tokenizer reads the full-width "，" as "," = 17.)
    assert out["token_ids"].to_list() == [
        [2, 5, 6, 15, 16, 17, 14, 7, 8, 3], [2, 3], [2, 3],
        [2, 7, 8, 9, 10, 11, 3]]
    # Whitespace mode hands the raw text to the tokenizer: "iphone15" is
    # one unknown word ([UNK] = 1), as before the argument existed.
    assert whitespace(tf.constant(CHINESE[:1]))["token_ids"].to_list() == [
        [2, 5, 6, 1, 17, 14, 7, 8, 3]]
    # Pairs: both texts are split.
    pair = cjk(tf.constant(["iphone15"]), tf.constant(["google北京"]))
    assert pair["token_ids"].to_list() == [[2, 15, 16, 3, 14, 7, 8, 3]]
    assert pair["segment_ids"].to_list() == [[0, 0, 0, 0, 1, 1, 1, 1]]


def test_cjk_chars_drops_sentencepiece_bare_metaspaces(tmp_path):
    """The spaces put between characters give XLM-R style tokenizers a
    bare `▁` before each character without a `▁<char>` piece; the
    classifier drops them as the NER preprocessor does (same pieces)."""
    import keras_hub
    from tiny_e5 import PIECES
    from tiny_e5 import write_tiny_e5

    from tfllm.checkpoints.e5 import write_hf_checkpoint
    from tfllm.preprocessing.token_classification_preprocessor import (
        TokenClassificationPreprocessor,
    )

    write_tiny_e5(tmp_path / "tiny.bin")
    folder = write_hf_checkpoint(tmp_path / "tiny.bin", tmp_path / "hf")
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(str(folder))
    cjk = TextClassificationPreprocessor(
        tokenizer, 16, word_splitter="cjk_chars")
    index = {p: i for i, p in enumerate(PIECES)}
    assert cjk(tf.constant(["国人中ab", ""]))["token_ids"].to_list() == [
        [0, index["国"], index["人"], index["▁中"], index["▁ab"], 2], [0, 2]]
    ner = TokenClassificationPreprocessor(
        tokenizer, 16, casing_features=False, word_splitter="cjk_chars")
    words = tf.ragged.constant([["国", "人", "中", "ab"]])
    assert ner(words)["token_ids"].to_list() == cjk(
        tf.constant(["国人中ab"]))["token_ids"].to_list()
    # The whitespace splitter leaves SentencePiece's own pieces alone.
    plain = TextClassificationPreprocessor(tokenizer, 16)
    assert index["▁"] in plain(tf.constant(["国 人"]))["token_ids"].to_list()[0]
