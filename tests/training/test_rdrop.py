"""R-Drop's symmetric KL and loss (issue 29: training strategies)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.training.rdrop import rdrop_kl
from tfllm.training.rdrop import symmetric_kl
from tfllm.training.steps import _clean_gradients
from tiny import tiny_text_classifier
from tiny import tiny_token_classifier

A = np.array([[[1.0, 0.0, -1.0], [0.5, 0.5, 0.0]],
              [[2.0, -1.0, 0.0], [0.0, 0.0, 3.0]]])
B = np.array([[[0.0, 1.0, -1.0], [0.5, 0.0, 0.5]],
              [[1.0, 1.0, 1.0], [-3.0, 0.0, 0.0]]])
W = np.array([[0.25, 0.5], [0.25, 0.0]])  # position [1, 1] is padding


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def kl(p, q):
    return (p * np.log(p / q)).sum(-1)


def test_softmax_kl_equals_numpy():
    p, q = softmax(A), softmax(B)
    expected = 0.5 * (kl(p, q) + kl(q, p))  # [2, 2]
    np.testing.assert_allclose(symmetric_kl(A, B), expected, rtol=1e-5)
    np.testing.assert_allclose(rdrop_kl(A, B, W), (W * expected).sum(),
                               rtol=1e-5)
    np.testing.assert_allclose(rdrop_kl(A, B, W, reduction="mean"),
                               (W * expected).sum() / W.sum(), rtol=1e-5)
    np.testing.assert_allclose(rdrop_kl(A, B, reduction="mean"),
                               expected.mean(), rtol=1e-5)
    assert float(rdrop_kl(A, A, W)) == 0.0


def test_bernoulli_kl_equals_numpy():
    a, b = A[0], B[0]  # [2 texts, 3 labels]
    p, q = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    per_label = (p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
                 + q * np.log(q / p) + (1 - q) * np.log((1 - q) / (1 - p)))
    expected = 0.5 * per_label.mean(-1)
    np.testing.assert_allclose(symmetric_kl(a, b, multi_label=True),
                               expected, rtol=1e-5)
    np.testing.assert_allclose(
        rdrop_kl(a, b, [0.5, 0.5], multi_label=True),
        0.5 * expected.sum(), rtol=1e-5)


@pytest.mark.parametrize("task", ["crf", "multi_label"])
def test_step_loss_is_mean_task_loss_plus_alpha_kl(task):
    """The two passes differ (dropout 0.5); the step's loss is
    (L1 + L2) / 2 + alpha * KL computed by hand from the two outputs."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    if task == "crf":
        from tfllm.models.token_classifier import TokenClassifier

        base = tiny_token_classifier(seed=0)
        model = TokenClassifier(base.backbone, base.id2label,
                                preprocessor=base.preprocessor, dropout=0.5,
                                head="crf")
        x = {"token_ids": rng.integers(5, 20, (2, 5)).astype("int32"),
             "padding_mask": np.ones((2, 5), "int32"),
             "segment_ids": np.zeros((2, 5), "int32"),
             "casing_ids": np.zeros((2, 5), "int32")}
        y = rng.integers(0, 7, (2, 5)).astype("int32")
        w = np.full((2, 5), 0.1, "float32")
        w[1, 3:] = 0.0
        loss = model.training_loss("sum")
    else:
        model = tiny_text_classifier(dropout=0.5, multi_label=True,
                                     labels=["a", "b", "c"])
        x = {"token_ids": rng.integers(5, 12, (3, 4)).astype("int32"),
             "padding_mask": np.ones((3, 4), "int32"),
             "segment_ids": np.zeros((3, 4), "int32")}
        y = rng.integers(0, 2, (3, 3)).astype("float32")
        w = np.array([0.5, 0.25, 0.25], "float32")
        loss = keras.losses.BinaryCrossentropy(from_logits=True,
                                               reduction="sum")
    model.compile(optimizer="sgd", loss=loss)
    model.rdrop_alpha = 2.0
    outputs = []
    compute_loss = model.compute_loss

    def spy(**kwargs):
        outputs.append(kwargs["y_pred"].numpy())
        return compute_loss(**kwargs)

    model.compute_loss = spy
    value, _, grads, _ = _clean_gradients(
        model, x, y, w, model.trainable_variables, None)
    first, second = outputs
    assert np.abs(first - second).max() > 1e-3  # two dropout masks
    task_loss = 0.5 * (float(loss(y, first, sample_weight=w))
                       + float(loss(y, second, sample_weight=w)))
    if task == "crf":
        p, q = softmax(first), softmax(second)
        per_position = 0.5 * (kl(p, q) + kl(q, p))
    else:
        p, q = 1 / (1 + np.exp(-first)), 1 / (1 + np.exp(-second))
        per_position = 0.5 * (
            p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
            + q * np.log(q / p) + (1 - q) * np.log((1 - q) / (1 - p))
        ).mean(-1)
    expected = task_loss + 2.0 * (w * per_position).sum()
    assert float(value) == pytest.approx(expected, rel=1e-5)
    assert any(g is not None for g in grads)
    tf.debugging.assert_all_finite(
        tf.add_n([tf.reduce_sum(tf.convert_to_tensor(g))
                  for g in grads if g is not None]), "gradients")
