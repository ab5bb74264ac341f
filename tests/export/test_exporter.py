"""One exporter: SavedModel + LiteRT bundle, the tokenizer helper, the table."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfllm.export.exporter import export_model
from tfllm.export.tflite import CollapsedModelError
from tfllm.export.litert_bundle import LiteRTTask
from tfllm.export.verify import format_table
from tfllm.export.verify import verify_exports
from tiny import CLS_GOLD
from tiny import CLS_TEXTS
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import tiny_text_classifier
from tiny import tiny_token_classifier

LONG = SENTENCE_A * 3  # 42 words: several 16-token windows


def test_ner_export_bundle_helper_and_table(tmp_path):
    model = tiny_token_classifier(sequence_length=16)
    sentences = [SENTENCE_A, SENTENCE_B, LONG, ["Anna"]]
    result = export_model(
        model, "ner", tmp_path / "sm" / "ner", tmp_path / "lite",
        sentences * 3, sentences, flavours=("float32",),
        keras_int8=True)
    assert result["saved_model"].endswith("ner/1")
    assert result["keras_int8"].endswith("ner_keras_int8/1")
    bundle = tmp_path / "lite"
    assert sorted(p.name for p in bundle.iterdir()) == [
        "export_report.json", "float32.tflite", "labels.txt",
        "preprocessing.json", "vocab.txt"]
    report = json.loads((bundle / "export_report.json").read_text())
    assert report["float32"]["agreement"] == 1.0
    assert json.loads((bundle / "preprocessing.json").read_text())[
        "window_overlap"] == model.preprocessor.window_overlap

    # The tokenizer helper rebuilds the windows from vocab.txt alone: the
    # float32 file gives the Keras model's word logits, long sentence too.
    expected = model.predict_word_logits(tf.ragged.constant(
        sentences, row_splits_dtype=tf.int64)).to_list()
    got = LiteRTTask(bundle, "float32").logits(sentences)
    for g, e in zip(got, expected):
        assert g.shape == (len(e), 7)
        assert np.abs(g - np.asarray(e)).max() < 1e-5

    gold = [["O"] * len(s) for s in sentences]
    rows = verify_exports(model, sentences, gold, result["saved_model"],
                          result["litert"], ("float32",),
                          result["keras_int8"], latency_samples=2)
    names = [r["format"] for r in rows]
    assert names[:3] == ["Keras (in memory, raw text)",
                         "SavedModel float32 (raw text)",
                         "SavedModel Keras quantize('int8') (raw text)"]
    assert names[3:] == ["TFLite float32 (token ids)",
                         "tokenization for TFLite (tfllm preprocessor, "
                         "tf.function)"]
    by_name = dict(zip(names, rows))
    # Same predictions as Keras: the same score, delta exactly 0.
    assert by_name["SavedModel float32 (raw text)"]["delta_points"] == 0.0
    assert by_name["TFLite float32 (token ids)"]["delta_points"] == 0.0
    assert by_name["TFLite float32 (token ids)"]["size_mib"] > 0
    assert all(r["latency_p50_ms"] > 0 for r in rows)
    table = format_table(rows, "entity F1")
    assert table.count("\n") == len(rows) + 2


def test_classifier_fixed_length_bundle(tmp_path):
    model = tiny_text_classifier(sequence_length=8)
    result = export_model(model, "sentiment", None, tmp_path / "lite",
                          CLS_TEXTS, CLS_TEXTS, flavours=("dynamic_int8",),
                          sequence_length=8)
    assert result["saved_model"] is None
    task = LiteRTTask(tmp_path / "lite", "dynamic_int8")
    assert task.model.input_shapes()["token_ids"] == [1, 8]
    texts = CLS_TEXTS + ["great " * 50]  # truncated to 8 tokens in-graph
    logits = task.logits(texts)
    expected = model.predict_logits(tf.constant(texts)).numpy()
    assert np.abs(logits - expected).max() < 2e-2
    assert task.predict(texts) == [model.id2label[i]
                                   for i in expected.argmax(-1)]
    rows = verify_exports(model, CLS_TEXTS, CLS_GOLD, None, result["litert"],
                          ("dynamic_int8",), latency_samples=2)
    assert rows[1]["format"] == "TFLite dynamic_int8 (token ids)"
    assert rows[1]["score"] == rows[0]["score"]


def test_refused_flavour_is_left_out_when_asked(tmp_path, monkeypatch):
    from tfllm.export import exporter

    # Both exports make the same float32 conversion of the same model: it
    # runs once, and the second export gets its CollapsedModelError again.
    real, seen = exporter.convert_checked, []

    def convert_once(*args, **kwargs):
        if not seen:
            with pytest.raises(CollapsedModelError) as error:
                real(*args, **kwargs)
            seen.append(error.value)
        raise seen[0]

    monkeypatch.setattr(exporter, "convert_checked", convert_once)
    model = tiny_text_classifier(sequence_length=8)
    with pytest.raises(CollapsedModelError):  # agreement 1.0 < 1.01
        export_model(model, "s", None, tmp_path / "a", CLS_TEXTS, CLS_TEXTS,
                     flavours=("float32",), min_agreement=1.01)
    assert not (tmp_path / "a").exists()
    result = export_model(model, "s", None, tmp_path / "b", CLS_TEXTS,
                          CLS_TEXTS, flavours=("float32",),
                          min_agreement=1.01, skip_collapsed=True)
    assert result["reports"] == {}
    assert result["refused"]["float32"]["agreement"] == 1.0
    assert not (tmp_path / "b" / "float32.tflite").exists()
