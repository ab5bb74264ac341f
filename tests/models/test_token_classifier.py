import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.data.pipeline import encode_token_classification
from tfllm.data.pipeline import make_dataset
from tfllm.evaluation.ner_evaluator import predict_tags
from tfllm.inference.ner import load_token_classifier
from tfllm.models.token_classifier import TokenClassifier
from tiny import NER_LABELS
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import tiny_token_classifier

SENTENCES = [SENTENCE_A, SENTENCE_B]
TAGS = [TAGS_A, TAGS_B]


def loss_object():
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight")


def encoded(model, sentences=SENTENCES, tags=TAGS):
    ids = [[NER_LABELS.index(t) for t in s] for s in tags]
    return encode_token_classification(model.preprocessor, sentences, ids)


def test_output_shape_and_config_round_trip():
    model = tiny_token_classifier()
    inputs = {k: tf.ones([2, 7], tf.int32) for k in
              ("token_ids", "padding_mask", "segment_ids", "casing_ids")}
    assert model(inputs).shape == (2, 7, len(NER_LABELS))
    config = model.get_config()
    assert config["id2label"] == NER_LABELS
    clone = TokenClassifier.from_config(config)
    assert clone.id2label == NER_LABELS
    assert clone.count_params() == model.count_params()
    assert not model.backbone.pooled_dense.trainable


def test_a3_padding_leaves_loss_and_gradients_unchanged():
    model = tiny_token_classifier()
    data = encoded(model)
    x = {k: v.to_tensor() for k, v in data.features.items()}
    y, w = data.labels.to_tensor(), data.sample_weight.to_tensor()

    def loss_and_grads(pad):
        xp = {k: tf.pad(v, [[0, 0], [0, pad]]) for k, v in x.items()}
        yp, wp = tf.pad(y, [[0, 0], [0, pad]]), tf.pad(w, [[0, 0], [0, pad]])
        with tf.GradientTape() as tape:
            loss = loss_object()(yp, model(xp, training=False), wp)
        return loss, tape.gradient(loss, model.trainable_variables)

    loss0, grads0 = loss_and_grads(0)
    loss10, grads10 = loss_and_grads(10)
    assert abs(float(loss0) - float(loss10)) < 1e-6
    for g0, g10 in zip(grads0, grads10):
        if g0 is not None:
            np.testing.assert_allclose(
                tf.convert_to_tensor(g0), tf.convert_to_tensor(g10),
                atol=1e-6)


def test_fit_learns_a_tiny_task():
    model = tiny_token_classifier()
    data = encoded(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss_object())
    dataset = make_dataset(data, 2, 16)
    history = model.fit(dataset, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    assert predict_tags(model, SENTENCES) == TAGS


def test_save_load_keeps_labels_vocabulary_and_predictions(tmp_path):
    model = tiny_token_classifier(seed=3)
    before = model.predict_word_logits(
        tf.ragged.constant(SENTENCES)).flat_values.numpy()
    model.save(tmp_path / "model.keras")
    loaded = load_token_classifier(tmp_path)
    assert loaded.id2label == NER_LABELS
    assert loaded.preprocessor.sequence_length == 16
    assert (loaded.preprocessor.tokenizer.get_vocabulary()
            == model.preprocessor.tokenizer.get_vocabulary())
    after = loaded.predict_word_logits(
        tf.ragged.constant(SENTENCES)).flat_values.numpy()
    np.testing.assert_allclose(before, after, atol=1e-6)
    with pytest.raises(ValueError, match="differ from the saved id2label"):
        load_token_classifier(tmp_path, id2label=sorted(NER_LABELS))
    with pytest.raises(FileNotFoundError):
        load_token_classifier(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot load"):
        load_token_classifier(tmp_path / "bad")


def test_br06_labels_survive_other_hash_seeds(tmp_path):
    model = tiny_token_classifier(seed=5)
    model.save(tmp_path / "model.keras")
    expected = predict_tags(model, SENTENCES)
    code = (
        "import sys, json; sys.path.insert(0, 'tests');"
        "from tfllm.inference.ner import load_token_classifier;"
        "from tfllm.evaluation.ner_evaluator import predict_tags;"
        "from tiny import SENTENCE_A, SENTENCE_B;"
        f"m = load_token_classifier({str(tmp_path)!r});"
        "print(json.dumps([m.id2label,"
        " predict_tags(m, [SENTENCE_A, SENTENCE_B])]))")
    root = os.path.dirname(os.path.dirname(__file__))
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True,
            check=True, cwd=root,
            env=dict(os.environ, PYTHONHASHSEED=seed)).stdout
        import json
        labels, tags = json.loads(out.strip().splitlines()[-1])
        assert labels == NER_LABELS
        assert tags == expected


def crf_classifier(seed=0):
    from tfllm.preprocessing.token_classification_preprocessor import (
        TokenClassificationPreprocessor,
    )
    from tiny import tiny_backbone
    from tiny import tiny_tokenizer

    preprocessor = TokenClassificationPreprocessor(tiny_tokenizer(), 16)
    return TokenClassifier(tiny_backbone(seed), NER_LABELS,
                           preprocessor=preprocessor, dropout=0.0,
                           head="crf")


def randomise_crf(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.crf.weights:
        variable.assign(rng.normal(size=variable.shape).astype(np.float32))


def test_crf_head_config_round_trip_and_old_configs():
    model = crf_classifier()
    config = model.get_config()
    assert config["head"] == "crf"
    clone = TokenClassifier.from_config(config)
    assert clone.head == "crf" and clone.crf is not None
    np.testing.assert_array_equal(clone.crf.allowed, model.crf.allowed)
    # I-PER cannot follow O: the IOB2 mask comes from the labels.
    assert not model.crf.allowed[0, NER_LABELS.index("I-PER")]
    assert model.count_params() == tiny_token_classifier().count_params() + (
        len(NER_LABELS) ** 2 + 2 * len(NER_LABELS))
    old = tiny_token_classifier().get_config()
    del old["head"]  # saved before the argument existed
    assert TokenClassifier.from_config(old).crf is None
    with pytest.raises(ValueError, match="head must be one of"):
        TokenClassifier.from_config(dict(config, head="crf2"))


def test_crf_decoding_is_viterbi_over_each_sentence_words():
    import itertools

    model = crf_classifier(seed=2)
    randomise_crf(model)
    words = tf.ragged.constant([SENTENCE_B, SENTENCE_A])
    logits = model.predict_word_logits(words)
    labels = model.predict_word_labels(words)
    assert labels.dtype == tf.int32
    assert labels.row_lengths().numpy().tolist() == [4, 14]
    transitions, start, end = (
        t.numpy() for t in model.crf.constrained_transitions())
    emissions = logits[0].numpy()  # 4 words: all 7^4 paths
    best, best_score = None, -np.inf
    for path in itertools.product(range(len(NER_LABELS)), repeat=4):
        score = (start[path[0]] + end[path[-1]]
                 + sum(emissions[t, y] for t, y in enumerate(path))
                 + sum(transitions[a, b] for a, b in zip(path, path[1:])))
        if score > best_score:
            best, best_score = list(path), score
    assert labels[0].numpy().tolist() == best
    argmax = np.argmax(logits.flat_values.numpy(), -1).tolist()
    assert labels.flat_values.numpy().tolist() != argmax  # it matters here
    from tfllm.data.tagging import iob1_to_iob2

    for tags in predict_tags(model, [SENTENCE_B, SENTENCE_A, ["Lyon"]]):
        assert iob1_to_iob2(tags) == tags  # valid IOB2


def test_crf_head_fit_lowers_the_loss():
    model = crf_classifier()
    data = encoded(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=model.training_loss("mean_with_sample_weight"))
    history = model.fit(make_dataset(data, 2, 16), epochs=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.3 * losses[0]
    assert predict_tags(model, SENTENCES) == TAGS
    with pytest.raises(ValueError, match="CRFLoss"):
        model.compile(optimizer="adam", loss=loss_object())
        model.fit(make_dataset(data, 2, 16), epochs=1, verbose=0)


def test_crf_save_load_keeps_predictions_and_resumes_training(tmp_path):
    model = crf_classifier(seed=4)
    randomise_crf(model, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=model.training_loss())
    words = tf.ragged.constant(SENTENCES)
    before = model.predict_word_labels(words).to_list()
    model.save(tmp_path / "model.keras")
    loaded = load_token_classifier(tmp_path)
    assert loaded.head == "crf"
    assert loaded.predict_word_labels(words).to_list() == before
    for a, b in zip(loaded.crf.weights, model.crf.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # A training checkpoint is loaded compiled: its CRFLoss comes back
    # without a layer and is bound to the loaded model's CRF.
    resumed = keras.models.load_model(tmp_path / "model.keras")
    assert resumed.loss.crf is None
    x, y, w = next(iter(make_dataset(encoded(resumed), 2, 16)))
    loss = resumed.train_on_batch(x, y, w)
    assert resumed.loss.crf is resumed.crf and np.isfinite(loss)


LEXICON_SENTENCES = [list("我在北京大学工作"), ["Zorbex", "北", "京"]]


def lexicon_classifier(tmp_path, head="softmax", seed=0):
    """A tiny classifier with lexicon features from a word list file."""
    from tfllm.preprocessing.token_classification_preprocessor import (
        TokenClassificationPreprocessor,
    )
    from tiny import tiny_backbone
    from tiny import tiny_tokenizer

    path = tmp_path / "lexicon.txt"
    path.write_text("北京\n北京大学\n大学\n工作\n我\n", encoding="utf-8")
    preprocessor = TokenClassificationPreprocessor(
        tiny_tokenizer(), 16, lexicon_features=str(path))
    return TokenClassifier(tiny_backbone(seed), NER_LABELS,
                           preprocessor=preprocessor, dropout=0.0,
                           lexicon_features=True, head=head)


def test_lexicon_features_config_save_and_load(tmp_path):
    from tfllm.training.optimizers import head_learning_rate_multipliers

    model = lexicon_classifier(tmp_path, head="crf")
    randomise_crf(model)
    config = model.get_config()
    assert (config["lexicon_features"], config["lexicon_dim"]) == (True, 16)
    clone = TokenClassifier.from_config(dict(
        config, preprocessor=model.preprocessor))
    assert clone.count_params() == model.count_params() == (
        crf_classifier().count_params() + 17 * 16 + 16 * len(NER_LABELS))
    assert "^lexicon_embedding/" in head_learning_rate_multipliers(model, 10)
    words = tf.ragged.constant(LEXICON_SENTENCES, row_splits_dtype=tf.int64)
    # The lexicon classes reach the head: other classes, other logits.
    inputs = model.model_inputs(model.preprocessor(words))
    assert inputs["lexicon_ids"].numpy().max() > 1
    changed = dict(inputs, lexicon_ids=tf.minimum(inputs["lexicon_ids"], 1))
    assert np.abs(model(inputs) - model(changed)).max() > 1e-3
    logits = model.predict_word_logits(words).flat_values.numpy()
    labels = model.predict_word_labels(words).to_list()
    model.save(tmp_path / "model.keras")
    # The .keras file carries the words: the word list is not needed.
    (tmp_path / "lexicon.txt").unlink()
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.preprocessor.lexicon_words == (
        model.preprocessor.lexicon_words)
    np.testing.assert_allclose(
        loaded.predict_word_logits(words).flat_values.numpy(), logits,
        atol=1e-6)
    assert loaded.predict_word_labels(words).to_list() == labels
    old = dict(config, preprocessor=model.preprocessor)
    del old["lexicon_features"], old["lexicon_dim"]  # older configs
    assert TokenClassifier.from_config(old).lexicon_embedding is None
    with pytest.raises(ValueError, match="lexicon_ids"):
        TokenClassifier(model.backbone, NER_LABELS,
                        preprocessor=type(model.preprocessor)(
                            model.preprocessor.tokenizer, 16),
                        lexicon_features=True)


def test_lexicon_features_encode_and_fit(tmp_path):
    model = lexicon_classifier(tmp_path)
    sentences = [LEXICON_SENTENCES[0], SENTENCE_B]
    tags = [["O", "O", "B-LOC", "I-LOC", "O", "O", "O", "O"], TAGS_B]
    data = encoded(model, sentences, tags)
    assert data.features["lexicon_ids"].to_list()[0] == [
        0, 2, 1, 9, 7, 13, 3, 9, 3, 0]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss_object())
    history = model.fit(make_dataset(data, 2, 16), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
