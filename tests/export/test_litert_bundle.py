"""LiteRT bundle settings: the word splitter and the lexicon travel along."""

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


def test_token_classifier_lexicon_round_trip(tmp_path):
    """The bundle carries lexicon.txt; the .tflite takes `lexicon_ids`."""
    import numpy as np

    from tfllm.export.exporter import export_model
    from tfllm.export.litert_bundle import LiteRTTask
    from tfllm.models.token_classifier import TokenClassifier
    from tfllm.preprocessing.token_classification_preprocessor import (
        TokenClassificationPreprocessor,
    )

    words = tmp_path / "words.txt"
    words.write_text("北京\n大学\n北京大学\n", encoding="utf-8")
    model = TokenClassifier(
        tiny_cjk_backbone(), ["O", "B-LOC", "I-LOC"], lexicon_features=True,
        preprocessor=TokenClassificationPreprocessor(
            tiny_cjk_tokenizer(), 16, lexicon_features=str(words)))
    sentences = [list("我在北京大学"), ["google"], list("北京的公司") * 4]
    # The token-id SavedModel holds no hash table (TFLite refuses them).
    export_model(model, "ner", None, tmp_path / "bundle", sentences,
                 sentences, flavours=("float32",))
    folder = tmp_path / "bundle"
    words.unlink()  # the bundle carries its own lexicon.txt
    settings = json.loads((folder / "preprocessing.json").read_text())
    assert settings["lexicon"] == "lexicon.txt"
    assert "lexicon_ids" in settings["inputs"]
    task = LiteRTTask(folder, "float32")
    batch = tf.ragged.constant(sentences, row_splits_dtype=tf.int64)
    assert task.preprocessor(batch)["lexicon_ids"].to_list()[:2] == (
        model.preprocessor(batch)["lexicon_ids"].to_list()[:2]) == [
            [0, 1, 1, 9, 7, 13, 3, 0], [0, 1, 0]]
    expected = model.predict_word_logits(batch).to_list()
    for got, want in zip(task.logits(sentences), expected):
        np.testing.assert_allclose(got, want, atol=1e-5)
    # Bundles without the setting rebuild a preprocessor without lexicon.
    del settings["lexicon"]
    (folder / "preprocessing.json").write_text(json.dumps(settings))
    assert load_preprocessor(folder).lexicon_features is None
