"""Ensembles exported as one SavedModel (issue 29, fine-tuning strategies):
the loaded SavedModel's outputs equal the mean of its members' outputs,
computed separately from each member."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tfllm.export.classifier_serving import input_signature
from tfllm.export.classifier_serving import make_serving_fn
from tfllm.models.ensemble import TextClassifierEnsemble
from tfllm.models.ensemble import TokenClassifierEnsemble
from tfllm.models.ensemble import ensemble_of
from tiny import CLS_LABELS
from tiny import NER_LABELS
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import tiny_text_classifier
from tiny import tiny_token_classifier


def _serve(path):
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    return tf.saved_model.load(str(path)).signatures["serving_default"]


def _word_logits(model, sentences):
    words = tf.ragged.constant(sentences, row_splits_dtype=tf.int64)
    return [row.numpy() for row in model.predict_word_logits(words)]


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _decoded(out, key, row):
    return [v.decode() for v in out[key][row].numpy() if v]


def test_softmax_ner_ensemble_is_the_mean_of_member_probabilities():
    members = [tiny_token_classifier(seed=s) for s in (0, 1)]
    sentences = [SENTENCE_A, SENTENCE_B]
    mean = [np.mean([_softmax(_word_logits(m, sentences)[i])
                     for m in members], axis=0) for i in range(2)]
    ensemble = ensemble_of(members)
    assert isinstance(ensemble, TokenClassifierEnsemble)
    # What the exporter reads: softmax of the ensemble's word scores.
    for i, scores in enumerate(_word_logits(ensemble, sentences)):
        np.testing.assert_allclose(_softmax(scores), mean[i], atol=1e-6)
    # Entity-level scoring of the ensemble (as `tfllm train ner` reports).
    report = ensemble.evaluate([(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)])
    assert report["predictions"] == [
        [NER_LABELS[j] for j in p.argmax(-1)] for p in mean]
    assert 0.0 <= report["f1"] <= 1.0


def _best_path(emissions, transitions, start, end):
    """Brute-force highest-scoring label path (independent of Viterbi)."""
    best, best_score = None, -np.inf
    for path in itertools.product(range(emissions.shape[1]),
                                  repeat=len(emissions)):
        score = start[path[0]] + end[path[-1]] + sum(
            emissions[t, y] for t, y in enumerate(path)) + sum(
            transitions[a, b] for a, b in zip(path, path[1:]))
        if score > best_score:
            best, best_score = path, score
    return list(best)


def test_crf_ner_export_decodes_mean_emissions_with_mean_transitions(
        tmp_path):
    from tfllm.layers.crf import allowed_transitions
    from tfllm.layers.crf import CRF

    members = []
    rng = np.random.default_rng(1)
    for seed in (0, 1):
        model = tiny_token_classifier(seed=seed)
        model.head = "crf"  # a CRF on the same emissions, random scores
        model.crf = CRF(len(NER_LABELS),
                        allowed=allowed_transitions(NER_LABELS))
        for variable in (model.crf.transitions, model.crf.start_transitions,
                         model.crf.end_transitions):
            variable.assign(rng.normal(0, 3, variable.shape))
        members.append(model)
    sentence = SENTENCE_B  # 7 ** 4 paths: brute force is cheap
    emissions = np.mean([_word_logits(m, [sentence])[0] for m in members],
                        axis=0)
    scores = [[s.numpy() for s in m.crf.constrained_transitions()]
              for m in members]
    transitions, start, end = (np.mean(parts, axis=0)
                               for parts in zip(*scores))
    expected = [NER_LABELS[j] for j in _best_path(emissions, transitions,
                                                  start, end)]
    # The members alone decode otherwise: the mean is not one member.
    alone = [[NER_LABELS[j] for j in _best_path(
        _word_logits(m, [sentence])[0], *s)] for m, s in zip(members, scores)]
    assert expected not in alone
    out = _serve(TokenClassifierEnsemble(members).export(tmp_path / "crf"))(
        text=tf.constant([" ".join(sentence)]))
    assert _decoded(out, "tags", 0) == expected
    picked = [NER_LABELS.index(t) for t in expected]
    np.testing.assert_allclose(
        out["scores"][0, :4].numpy(),
        _softmax(emissions)[np.arange(4), picked], atol=1e-5)


def test_classifier_serving_is_the_mean_of_member_probabilities():
    members = [tiny_text_classifier(seed=s) for s in (0, 3)]
    texts = ["great movie", "the awful plot ."]
    probabilities = [m.probabilities(m.predict_logits(tf.constant(texts)))
                     .numpy() for m in members]
    mean = np.mean(probabilities, axis=0)
    assert np.abs(probabilities[0] - probabilities[1]).max() > 1e-3
    ensemble = ensemble_of(members)
    assert isinstance(ensemble, TextClassifierEnsemble)
    # The exporter's own serving function (the SavedModel's signature; the
    # NER test above writes and loads one).
    serve = tf.function(make_serving_fn(ensemble),
                        input_signature=input_signature(ensemble))
    out = serve(tf.constant(texts))
    np.testing.assert_allclose(out["probabilities"].numpy(), mean, atol=1e-5)
    assert [v.decode() for v in out["label"].numpy()] == [
        CLS_LABELS[j] for j in mean.argmax(-1)]


def test_multi_label_ensemble_averages_sigmoids_and_thresholds():
    members = [tiny_text_classifier(seed=s, multi_label=True,
                                    thresholds=[t, 0.5])
               for s, t in ((0, 0.2), (3, 0.6))]
    text = tf.constant(["great movie", "awful ."])
    mean = np.mean([tf.sigmoid(m.predict_logits(text)).numpy()
                    for m in members], axis=0)
    ensemble = TextClassifierEnsemble(members)
    assert ensemble.thresholds == pytest.approx([0.4, 0.5])
    probabilities = ensemble.probabilities(ensemble.predict_logits(text))
    np.testing.assert_allclose(probabilities.numpy(), mean, atol=1e-5)
    np.testing.assert_array_equal(
        ensemble.decide(probabilities).numpy(), mean >= [0.4, 0.5])


def test_members_must_agree():
    with pytest.raises(ValueError, match="at least 2"):
        TokenClassifierEnsemble([tiny_token_classifier()])
    with pytest.raises(ValueError, match="labels"):
        TokenClassifierEnsemble([
            tiny_token_classifier(),
            tiny_token_classifier(labels=["O", "B-PER", "I-PER"])])
