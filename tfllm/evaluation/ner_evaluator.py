"""Word-level predictions and scores of a `TokenClassifier` on a split."""

import numpy as np
import tensorflow as tf

from tfllm.evaluation.ner_metrics import entity_report
from tfllm.evaluation.ner_metrics import token_report

WORDS_SPEC = tf.RaggedTensorSpec(
    [None, None], tf.string, ragged_rank=1, row_splits_dtype=tf.int64
)


def word_logits_function(model):
    """A `tf.function` of `model.predict_word_logits` for ragged words.

    Traced once for any batch and sentence length; cached on the model.
    """
    function = getattr(model, "_tfllm_word_logits_fn", None)
    if function is None:
        function = tf.function(
            model.predict_word_logits, input_signature=[WORDS_SPEC]
        )
        model._tfllm_word_logits_fn = function
    return function


def word_labels_function(model):
    """A `tf.function` of `model.predict_word_labels` for ragged words.

    Argmax for the softmax head, Viterbi for the CRF head; traced once for
    any batch and sentence length and cached on the model.
    """
    function = getattr(model, "_tfllm_word_labels_fn", None)
    if function is None:
        function = tf.function(
            model.predict_word_labels, input_signature=[WORDS_SPEC]
        )
        model._tfllm_word_labels_fn = function
    return function


def predict_tags(model, sentences, batch_size=64):
    """Predicts one tag per word for every sentence.

    Sentences are sorted by length and batched so that little padding is
    computed; the result is returned in input order. Tags come from
    `model.predict_word_labels` (Viterbi for a CRF head).

    Args:
        model: `TokenClassifier` with a preprocessor.
        sentences: list of lists of str (words).
        batch_size: int. Sentences per forward pass.

    Returns:
        list of lists of str: `model.id2label` names, one per word.
    """
    function = word_labels_function(model)
    order = np.argsort([len(s) for s in sentences], kind="stable")
    predictions = [None] * len(sentences)
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        words = tf.ragged.constant(
            [sentences[i] for i in index], dtype=tf.string,
            row_splits_dtype=tf.int64,
        )
        labels = function(words)
        tag_ids = labels.flat_values.numpy()
        lengths = labels.row_lengths().numpy()
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        for row, i in enumerate(index):
            ids = tag_ids[offsets[row]:offsets[row + 1]]
            predictions[i] = [model.id2label[t] for t in ids]
    return predictions


def evaluate_ner(model, sentences, tags, batch_size=64):
    """Scores a model on a labelled split.

    Args:
        model: `TokenClassifier` with a preprocessor.
        sentences: list of lists of str (words).
        tags: list of lists of str, gold IOB2 tags.
        batch_size: int.

    Returns:
        dict with `entity_strict`, `entity_conlleval` (see `entity_report`),
        `token` (see `token_report`), `f1` (strict micro entity F1) and
        `predictions` (list of lists of str).
    """
    predicted = predict_tags(model, sentences, batch_size)
    return ner_report(tags, predicted, model.id2label)


def ner_report(tags, predicted, labels):
    """The scores of `evaluate_ner` for given predictions.

    Args:
        tags: list of lists of str, gold IOB2 tags.
        predicted: list of lists of str, predicted IOB2 tags, word for word.
        labels: list of str, the model's label list (`id2label`).

    Returns:
        dict with `entity_strict`, `entity_conlleval`, `token`, `f1` (strict
        micro entity F1, seqeval IOB2) and `predictions` (`predicted`).
    """
    strict = entity_report(tags, predicted, mode="strict")
    return {
        "f1": strict["micro avg"]["f1-score"],
        "entity_strict": strict,
        "entity_conlleval": entity_report(tags, predicted, mode="conlleval"),
        "token": token_report(tags, predicted, labels=labels),
        "predictions": predicted,
    }
