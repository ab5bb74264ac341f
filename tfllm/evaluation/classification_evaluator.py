"""Predictions and scores of a `TextClassifier` on a split of raw texts."""

import numpy as np
import tensorflow as tf

from tfllm.evaluation.classification_metrics import multi_label_report
from tfllm.evaluation.classification_metrics import single_label_report

TEXT_BATCH_SPEC = tf.TensorSpec([None], tf.string)


def logits_function(model):
    """A `tf.function` of `model.predict_logits`, cached on the model."""
    function = getattr(model, "_tfllm_logits_fn", None)
    if function is None:
        if model.text_pairs:
            function = tf.function(
                model.predict_logits,
                input_signature=[TEXT_BATCH_SPEC, TEXT_BATCH_SPEC])
        else:
            function = tf.function(
                lambda text: model.predict_logits(text),
                input_signature=[TEXT_BATCH_SPEC])
        model._tfllm_logits_fn = function
    return function


def predict_probabilities(model, texts, text_pairs=None, batch_size=64):
    """Probabilities of raw texts, in input order.

    Texts are sorted by length and batched so that little padding is
    computed.

    Args:
        model: `TextClassifier` with a preprocessor.
        texts: list of str.
        text_pairs: list of str or None (required when the model takes
            pairs).
        batch_size: int.

    Returns:
        float32 array `[len(texts), num_labels]`: softmax (single-label) or
        sigmoid (multi-label) outputs.

    Raises:
        ValueError: pairs missing for a pair model, or given to a
            single-text model.
    """
    if model.text_pairs != (text_pairs is not None):
        raise ValueError(
            "this model classifies text pairs; give text_pairs"
            if model.text_pairs else "this model takes single texts")
    function = logits_function(model)
    lengths = [len(t) + (len(text_pairs[i]) if text_pairs else 0)
               for i, t in enumerate(texts)]
    order = np.argsort(lengths, kind="stable")
    out = np.zeros([len(texts), len(model.id2label)], np.float32)
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        args = [tf.constant([texts[i] for i in index], tf.string)]
        if text_pairs is not None:
            args.append(tf.constant([text_pairs[i] for i in index],
                                    tf.string))
        out[index] = model.probabilities(function(*args)).numpy()
    return out


def evaluate_classifier(model, examples, batch_size=64):
    """Scores a model on labelled `TextExample`s.

    Args:
        model: `TextClassifier` with a preprocessor.
        examples: list of `TextExample` whose labels are in `model.id2label`.
        batch_size: int.

    Returns:
        the report of `single_label_report` or `multi_label_report`, plus
        `probabilities` (array `[n, num_labels]`), `predicted` (label
        names per example: a str, or a list for multi-label) and `gold`.
    """
    pairs = [e.text_pair for e in examples] if model.text_pairs else None
    probabilities = predict_probabilities(
        model, [e.text for e in examples], pairs, batch_size)
    return classifier_report(model, examples, probabilities)


def classifier_report(model, examples, probabilities):
    """The report of `evaluate_classifier` for given probabilities.

    Args:
        model: `TextClassifier` (its `id2label`, `multi_label`, `decide`).
        examples: list of `TextExample`, the gold labels.
        probabilities: float32 array `[len(examples), num_labels]`, as
            `predict_probabilities` returns.

    Returns:
        See `evaluate_classifier`.
    """
    from tfllm.data.labels import label_ids

    gold = label_ids(examples, model.id2label, model.multi_label)
    if model.multi_label:
        decided = model.decide(tf.constant(probabilities)).numpy()
        result = multi_label_report(gold, decided, model.id2label)
        predicted = [[model.id2label[i] for i in np.flatnonzero(row)]
                     for row in decided]
    else:
        ids = probabilities.argmax(axis=-1)
        result = single_label_report(gold, ids, model.id2label)
        predicted = [model.id2label[i] for i in ids]
    result.update(probabilities=probabilities, predicted=predicted,
                  gold=[e.label for e in examples])
    return result
