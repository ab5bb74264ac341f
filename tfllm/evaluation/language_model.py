"""Held-out scores of language models: loss, perplexity, token accuracy."""

import math

import keras
import tensorflow as tf


def evaluate_language_model(model, dataset):
    """Mean token loss, perplexity and accuracy of `model` on a dataset.

    Works for both pre-training tasks: a masked LM scored on its masked
    positions (weights from `DynamicMasking`, with a fixed seed so every
    evaluation masks the same tokens) and a causal LM scored on every
    next-token target (padding has weight 0).

    Args:
        model: a `keras.Model` returning logits `[batch, positions, vocab]`.
        dataset: `tf.data.Dataset` of `(features, labels, weights)` with
            int labels and float weights `[batch, positions]`.

    Returns:
        dict: `loss` (mean cross-entropy in nats per scored token),
        `perplexity` (`exp(loss)`), `accuracy` (share of scored tokens whose
        argmax is the label) and `tokens` (scored tokens).

    Raises:
        ValueError: the dataset scores no token.
    """

    @tf.function(reduce_retracing=True)
    def batch_sums(x, y, w):
        logits = tf.cast(model(x, training=False), tf.float32)
        losses = keras.losses.sparse_categorical_crossentropy(
            y, logits, from_logits=True)
        correct = tf.cast(
            tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                     tf.cast(y, tf.int32)), tf.float32)
        w = tf.cast(w, tf.float32)
        return (tf.reduce_sum(losses * w), tf.reduce_sum(correct * w),
                tf.reduce_sum(w))

    loss_sum = correct_sum = weight_sum = 0.0
    for x, y, w in dataset:
        loss, correct, weight = batch_sums(x, y, w)
        loss_sum += float(loss)
        correct_sum += float(correct)
        weight_sum += float(weight)
    if weight_sum == 0:
        raise ValueError("the evaluation data has no scored token")
    loss = loss_sum / weight_sum
    return {
        "loss": loss,
        "perplexity": math.exp(min(loss, 700.0)),
        "accuracy": correct_sum / weight_sum,
        "tokens": int(weight_sum),
    }
