"""LiteRT bundle settings: the classifier's word splitter travels along."""

import json

import tensorflow as tf

from tfllm.export.litert_bundle import load_preprocessor
from tfllm.export.litert_bundle import preprocessing_settings
from tfllm.models.text_classifier import TextClassifier
from tfllm.preprocessing.text_classification_preprocessor import (
    TextClassificationPreprocessor,
)
from tiny import tiny_cjk_backbone
from tiny import tiny_cjk_tokenizer


def test_classifier_word_splitter_round_trip(tmp_path):
    model = TextClassifier(
        tiny_cjk_backbone(), ["a", "b"],
        preprocessor=TextClassificationPreprocessor(
            tiny_cjk_tokenizer(), 16, word_splitter="cjk_chars"))
    settings = preprocessing_settings(model)
    assert settings["word_splitter"] == "cjk_chars"
    (tmp_path / "vocab.txt").write_text(
        "\n".join(model.preprocessor.tokenizer.get_vocabulary()) + "\n")
    (tmp_path / "preprocessing.json").write_text(json.dumps(settings))
    rebuilt = load_preprocessor(tmp_path)
    assert rebuilt.word_splitter == "cjk_chars"
    text = tf.constant(["我在iphone15"])
    assert rebuilt(text)["token_ids"].to_list() == (
        model.preprocessor(text)["token_ids"].to_list()) == [
            [2, 5, 6, 15, 16, 3]]
    # A bundle written before the setting existed rebuilds "whitespace".
    del settings["word_splitter"]
    (tmp_path / "preprocessing.json").write_text(json.dumps(settings))
    assert load_preprocessor(tmp_path).word_splitter == "whitespace"
