import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.data.pipeline import encode_text_classification
from tfllm.data.pipeline import make_dataset
from tfllm.evaluation.classification_evaluator import predict_probabilities
from tfllm.models.text_classifier import TextClassifier
from tiny import CLS_GOLD
from tiny import CLS_LABELS
from tiny import CLS_TEXTS
from tiny import tiny_text_classifier

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fit(model, labels, loss, epochs=30, text_pairs=None):
    encoded = encode_text_classification(
        model.preprocessor, CLS_TEXTS, labels, text_pairs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    history = model.fit(make_dataset(encoded, 4, 8, shuffle=True, seed=0),
                        epochs=epochs, verbose=0)
    return history.history["loss"]


@pytest.mark.parametrize("pooling", ["mean", "pooled"])
def test_output_shape_and_config_round_trip(pooling):
    model = tiny_text_classifier(pooling=pooling)
    inputs = {k: tf.ones([3, 7], tf.int32) for k in
              ("token_ids", "padding_mask", "segment_ids")}
    assert model(inputs).shape == (3, 2)
    config = model.get_config()
    assert config["id2label"] == CLS_LABELS
    assert config["thresholds"] == [0.5, 0.5]
    clone = TextClassifier.from_config(config)
    assert (clone.pooling, clone.id2label) == (pooling, CLS_LABELS)
    assert clone.count_params() == model.count_params()
    assert model.backbone.pooled_dense.trainable == (pooling == "pooled")


def test_mean_pooling_ignores_padding():
    model = tiny_text_classifier()
    short = {"token_ids": tf.constant([[2, 5, 6, 3]]),
             "padding_mask": tf.ones([1, 4], tf.int32),
             "segment_ids": tf.zeros([1, 4], tf.int32)}
    padded = {k: tf.pad(v, [[0, 0], [0, 5]]) for k, v in short.items()}
    np.testing.assert_allclose(model(short), model(padded), atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="pooling"):
        tiny_text_classifier(pooling="max")
    with pytest.raises(ValueError, match="3 thresholds for 2 labels"):
        tiny_text_classifier(thresholds=[0.5] * 3)


def test_single_label_fit_learns_with_class_weights():
    model = tiny_text_classifier()
    gold = np.array([CLS_LABELS.index(g) for g in CLS_GOLD])
    encoded = encode_text_classification(
        model.preprocessor, CLS_TEXTS, gold,
        sample_weight=np.where(gold == 0, 2.0, 1.0))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    losses = model.fit(make_dataset(encoded, 4, 8, shuffle=True, seed=0),
                       epochs=30, verbose=0).history["loss"]
    assert losses[-1] < 0.1 * losses[0]
    predicted = predict_probabilities(model, CLS_TEXTS).argmax(-1)
    assert [CLS_LABELS[i] for i in predicted] == CLS_GOLD


def test_multi_label_thresholds_per_label():
    model = tiny_text_classifier(
        labels=["a", "b", "c"], multi_label=True,
        thresholds=[0.7, 0.25, 0.5])
    decided = model.decide(tf.constant([[0.6, 0.3, 0.5], [0.75, 0.2, 0.1]]))
    assert decided.numpy().tolist() == [[False, True, True],
                                        [True, False, False]]
    probabilities = model.probabilities(tf.constant([[0.0, 2.0, -2.0]]))
    np.testing.assert_allclose(probabilities, tf.sigmoid([[0.0, 2.0, -2.0]]))
    single = tiny_text_classifier(labels=["a", "b", "c"])
    assert single.decide(tf.constant([[0.2, 0.5, 0.3]])).numpy().tolist() == [
        [False, True, False]]


def test_multi_label_fit_learns():
    model = tiny_text_classifier(labels=["great", "awful", "movie"],
                                 multi_label=True)
    multi_hot = np.array([[w in t.split() for w in ("great", "awful",
                                                    "movie")]
                          for t in CLS_TEXTS], np.float32)
    losses = fit(model, multi_hot, keras.losses.BinaryCrossentropy(
        from_logits=True), epochs=40)
    assert losses[-1] < 0.2 * losses[0]
    probabilities = predict_probabilities(model, CLS_TEXTS)
    np.testing.assert_array_equal(probabilities >= 0.5, multi_hot > 0)


def test_text_pairs_use_the_second_text():
    model = tiny_text_classifier(text_pairs=True, seed=2)
    first = predict_probabilities(model, ["great movie"] * 2,
                                  ["awful plot", "great plot"])
    assert not np.allclose(first[0], first[1])
    with pytest.raises(ValueError, match="text pairs"):
        predict_probabilities(model, ["great movie"])


BR06_TRAIN = """
import json, sys
sys.path[:0] = ["tests", "."]
import keras, keras_hub, numpy as np
from tfllm.data.text_files import read_text_file
from tfllm.data.labels import build_class_list, label_ids
from tfllm.data.pipeline import encode_text_classification, make_dataset
from tfllm.evaluation.classification_evaluator import predict_probabilities
from tfllm.export.classifier_serving import export_classifier
from tfllm.models.text_classifier import TextClassifier
from tfllm.preprocessing.text_classification_preprocessor import (
    TextClassificationPreprocessor)
from tiny import CLS_VOCAB
out = sys.argv[1]
examples = read_text_file(out + "/intents.csv")
id2label = build_class_list(examples)
vocab = CLS_VOCAB + "book me flight to lyon hello there cancel my order hi".split()
tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=vocab, lowercase=True)
keras.utils.set_random_seed(0)
backbone = keras_hub.models.BertBackbone(
    vocabulary_size=len(vocab), num_layers=2, num_heads=2, hidden_dim=16,
    intermediate_dim=32, max_sequence_length=16, dropout=0.0)
model = TextClassifier(backbone, id2label, dropout=0.0,
    preprocessor=TextClassificationPreprocessor(tokenizer, 16))
texts = [e.text for e in examples]
encoded = encode_text_classification(
    model.preprocessor, texts, label_ids(examples, id2label))
model.compile(optimizer=keras.optimizers.Adam(1e-2),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(make_dataset(encoded, 4, 16), epochs=40, verbose=0)
predicted = [id2label[i] for i in predict_probabilities(model, texts).argmax(-1)]
model.save(out + "/model.keras")
export_classifier(model, out + "/sm")
print(json.dumps([id2label, predicted]))
"""

BR06_LOAD = """
import json, sys
sys.path[:0] = ["."]
import tensorflow as tf, tensorflow_text
from tfllm.inference.classifier import ClassifierPredictor
out = sys.argv[1]
texts = ["book me a flight to Lyon", "hello there", "cancel my order", "hi"]
kept = ClassifierPredictor(out + "/model.keras")
served = ClassifierPredictor(out + "/sm/1")
print(json.dumps([kept.id2label, [r["label"] for r in kept(texts)],
                  served.id2label, [r["label"] for r in served(texts)]]))
"""


def test_br06_labels_survive_other_hash_seeds(tmp_path):
    (tmp_path / "intents.csv").write_text(
        "text,label\nbook me a flight to Lyon,book_flight\n"
        "hello there,greeting\ncancel my order,cancel\nhi,greeting\n")

    def run(code, seed):
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True,
            text=True, check=True, cwd=ROOT,
            env=dict(os.environ, PYTHONHASHSEED=seed)).stdout
        return json.loads(out.strip().splitlines()[-1])

    id2label, expected = run(BR06_TRAIN, "0")
    assert id2label == ["book_flight", "cancel", "greeting"]
    assert expected == ["book_flight", "greeting", "cancel", "greeting"]
    assert (tmp_path / "sm" / "1" / "assets" / "labels.txt").read_text() == (
        "book_flight\ncancel\ngreeting\n")
    for seed in ("1", "2"):
        labels, kept, served_labels, served = run(BR06_LOAD, seed)
        assert labels == served_labels == id2label
        assert kept == served == expected
