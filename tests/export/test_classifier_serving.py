"""Raw-text classifier export: outside case BR-07 with its exact values."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfllm.export.classifier_serving import export_classifier
from tfllm.export.classifier_serving import input_signature
from tfllm.export.classifier_serving import make_serving_fn
from tiny import CLS_LABELS
from tiny import tiny_text_classifier

REQUEST = ["great movie", "awful plot", "", "great " * 50]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = tiny_text_classifier(sequence_length=8, seed=1)
    base = tmp_path_factory.mktemp("saved_models") / "sentiment"
    return model, export_classifier(model, base)


def test_br07_signature_and_outputs_without_tfllm(exported):
    model, path = exported
    code = f"""
import json, sys
import tensorflow as tf, tensorflow_text
serve = tf.saved_model.load({str(path)!r}).signatures["serving_default"]
out = serve(text=tf.constant({REQUEST!r}))
print(json.dumps({{
    "spec": repr(serve.structured_input_signature),
    "tfllm": [m for m in sys.modules if m.startswith("tfllm")],
    "shapes": {{k: v.shape.as_list() for k, v in out.items()}},
    "dtypes": {{k: v.dtype.name for k, v in out.items()}},
    "label": [t.decode() for t in out["label"].numpy()],
    "probabilities": out["probabilities"].numpy().tolist(),
    "logits": out["logits"].numpy().tolist(),
}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, check=True, cwd="/")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["tfllm"] == []
    # Exactly one input: a batch of raw strings (what a REST body
    # {"instances": ["great movie"]} maps onto).
    assert data["spec"] == (
        "((), {'text': TensorSpec(shape=(None,), dtype=tf.string, "
        "name='text')})")
    assert data["shapes"]["probabilities"] == [4, 2]
    assert data["shapes"]["logits"] == [4, 2]
    assert data["shapes"]["label"] == [4]
    assert data["shapes"]["probability"] == [4]
    assert data["dtypes"]["probabilities"] == "float32"
    assert data["dtypes"]["label"] == "string"
    logits = model.predict_logits(tf.constant(REQUEST)).numpy()
    probabilities = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(data["logits"], logits, atol=1e-5)
    np.testing.assert_allclose(data["probabilities"], probabilities,
                               atol=1e-5)
    assert data["label"] == [CLS_LABELS[i] for i in probabilities.argmax(-1)]


def test_export_writes_versions_and_assets(exported, tmp_path):
    model, path = exported
    assert path.name == "1"
    assets = path / "assets"
    assert (assets / "labels.txt").read_text() == "negative\npositive\n"
    assert (assets / "vocab.txt").read_text().split("\n")[:3] == [
        "[PAD]", "[UNK]", "[CLS]"]
    assert (assets / "task.txt").read_text() == "text_classification\n"
    assert not (assets / "thresholds.txt").exists()
    assert export_classifier(model, path.parent).name == "2"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_multi_label_and_pair_signatures(tmp_path):
    model = tiny_text_classifier(labels=["a", "b", "c"], multi_label=True,
                                 thresholds=[0.1, 0.9, 0.5], text_pairs=True)
    path = export_classifier(model, tmp_path / "nli")
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert sorted(serve.structured_input_signature[1]) == ["text",
                                                           "text_pair"]
    out = serve(text=tf.constant(["great movie", "awful"]),
                text_pair=tf.constant(["a plot", ""]))
    probabilities = out["probabilities"].numpy()
    np.testing.assert_array_equal(
        out["predicted"].numpy(),
        (probabilities >= [0.1, 0.9, 0.5]).astype(np.int32))
    assert (path / "assets" / "thresholds.txt").read_text().split() == [
        "0.1", "0.9", "0.5"]
    local = tf.function(make_serving_fn(model),
                        input_signature=input_signature(model))
    np.testing.assert_allclose(
        local(tf.constant(["great movie", "awful"]),
              tf.constant(["a plot", ""]))["probabilities"],
        probabilities, atol=1e-5)


def test_interrupted_export_leaves_no_version(exported, tmp_path,
                                              monkeypatch):
    model, _ = exported

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(model.preprocessor.tokenizer, "get_vocabulary", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export_classifier(model, tmp_path / "sentiment")
    assert list((tmp_path / "sentiment").iterdir()) == []


def test_chinese_cjk_chars_export_matches_the_in_memory_model(tmp_path):
    from tfllm.models.text_classifier import TextClassifier
    from tfllm.preprocessing.text_classification_preprocessor import (
        TextClassificationPreprocessor,
    )
    from tiny import tiny_cjk_backbone
    from tiny import tiny_cjk_tokenizer

    labels = ["address", "company", "game"]
    model = TextClassifier(
        tiny_cjk_backbone(seed=3), labels,
        preprocessor=TextClassificationPreprocessor(
            tiny_cjk_tokenizer(), 16, word_splitter="cjk_chars"),
        dropout=0.0, multi_label=True)
    texts = ["我在iphone15公司工作", "google北京，", "", "的😀"]
    path = export_classifier(model, tmp_path / "topics")
    assert (path / "assets" / "word_splitter.txt").read_text() == (
        "cjk_chars\n")
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    out = serve(text=tf.constant(texts))
    logits = model.predict_logits(tf.constant(texts)).numpy()
    np.testing.assert_allclose(out["logits"].numpy(), logits, atol=1e-5)
    np.testing.assert_allclose(out["probabilities"].numpy(),
                               tf.sigmoid(logits).numpy(), atol=1e-5)
    # The split runs in the graph: the export scores the raw text as the
    # whitespace model scores the space-joined words, and "iphone15"
    # unsplit ([UNK]) would score differently.
    joined = ["我 在 iphone 15 公 司 工 作", "google 北 京 ，", "", "的 😀"]
    whitespace = TextClassificationPreprocessor(model.preprocessor.tokenizer,
                                                16)

    def score(batch):
        inputs = model.model_inputs(whitespace(tf.constant(batch)))
        return model(inputs, training=False).numpy()

    np.testing.assert_allclose(out["logits"].numpy(), score(joined),
                               atol=1e-5)
    assert np.abs(score(texts[:1])[0] - logits[0]).max() > 1e-3
