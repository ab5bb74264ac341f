import pytest
import tensorflow as tf

from tfllm.preprocessing.text_classification_preprocessor import (
    TextClassificationPreprocessor,
)
from tiny import tiny_cls_tokenizer


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
    with pytest.raises(ValueError, match="sequence_length"):
        TextClassificationPreprocessor(tiny_cls_tokenizer(), 3)
