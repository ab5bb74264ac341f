"""The weight EMA: closed form, evaluation, best weights, resume; and one
train() run with EMA, PGD and R-Drop on a CRF tagger (issue 29: training
strategies)."""

import json

import keras
import numpy as np
import pytest

from tfllm.data.pipeline import encode_token_classification
from tfllm.training.callbacks import resume_state
from tfllm.training.ema import ema_values
from tfllm.training.ema import ema_weights
from tfllm.training.optimizers import make_adamw
from tfllm.training.steps import train_step
from tfllm.training.trainer import TrainingConfig
from tfllm.training.trainer import train
from tiny import tiny_token_classifier
from training.test_trainer import sum_loss
from training.test_trainer import tiny_data


class Probe(keras.Model):
    def train_step(self, data):
        return train_step(self, data)


class Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append(np.array(self.model.trainable_variables[0]))


def test_average_equals_the_closed_form_and_fit_keeps_raw_weights():
    inputs = keras.Input((2,))
    model = Probe(inputs, keras.layers.Dense(1, use_bias=False)(inputs))
    decay = 0.8
    model.compile(optimizer=make_adamw(0.1, 100, 0.0, 0.0, None,
                                       ema_decay=decay), loss="mse")
    record = Record()
    x = np.array([[1.0, 2.0], [0.5, -1.0]], "float32")
    model.fit(x, np.array([[3.0], [1.0]], "float32"), batch_size=1,
              epochs=3, shuffle=False, verbose=0, callbacks=[record])
    w = record.weights  # raw weights after updates 1..6
    n = len(w)
    expected = decay ** (n - 1) * w[0] + (1 - decay) * sum(
        decay ** (n - k) * w[k - 1] for k in range(2, n + 1))
    average = ema_values(model)[model.trainable_variables[0].path]
    np.testing.assert_allclose(average, expected, rtol=1e-6)
    assert np.abs(average - w[-1]).max() > 1e-3
    # fit returns with the raw weights (training state), not the average.
    np.testing.assert_array_equal(model.trainable_variables[0], w[-1])
    with ema_weights(model) as swapped:
        assert swapped
        np.testing.assert_array_equal(model.trainable_variables[0], average)
    assert np.array(model.trainable_variables[0]).tobytes() == w[-1].tobytes()


def test_ema_needs_an_average():
    model = tiny_token_classifier()
    with ema_weights(model) as swapped:
        assert not swapped
    with pytest.raises(ValueError, match="ema_decay"):
        ema_values(model)
    with pytest.raises(ValueError, match=r"ema_decay must be in \[0, 1\)"):
        train(model, None, TrainingConfig(ema_decay=1.0), "unused", None,
              "score", sum_loss())


def run(tmp_path, name, epochs, seen):
    """train() of a CRF tagger with EMA (PGD and R-Drop have their own
    step tests; tracing them here too cost ~30 s of suite time)."""
    from tfllm.models.token_classifier import TokenClassifier

    keras.utils.set_random_seed(0)
    base = tiny_token_classifier(seed=0)
    model = TokenClassifier(base.backbone, base.id2label,
                            preprocessor=base.preprocessor, dropout=0.1,
                            head="crf")
    encoded = encode_token_classification(model.preprocessor,
                                          *tiny_data(8))

    def evaluate(model):
        seen.append((np.array(model.classifier_head.kernel),
                     ema_values(model)))
        return {"score": float(model.optimizer.iterations)}, {}

    config = TrainingConfig(epochs=epochs, batch_size=4, learning_rate=1e-2,
                            warmup_ratio=0.0, ema_decay=0.5)
    return train(model, encoded, config, tmp_path / name, evaluate, "score",
                 model.training_loss("sum"))[0]


def test_evaluation_best_weights_and_resume_use_the_average(tmp_path):
    seen = []
    model = run(tmp_path, "whole", 2, seen)
    assert np.isfinite(json.loads((tmp_path / "whole" / "metrics.jsonl")
                                  .read_text().splitlines()[-1])["loss"])
    path = model.classifier_head.kernel.path
    # Every evaluation saw the averaged weights.
    for kernel, average in seen:
        np.testing.assert_array_equal(kernel, average[path])
    # The returned (best) model holds the last epoch's average ...
    np.testing.assert_array_equal(model.classifier_head.kernel,
                                  seen[-1][1][path])
    # ... and the checkpoint the raw weights next to the average.
    checkpoint, step = resume_state(tmp_path / "whole")
    assert step == 4
    raw = np.array(checkpoint.classifier_head.kernel)
    assert np.abs(raw - seen[-1][1][path]).max() > 1e-4
    np.testing.assert_array_equal(ema_values(checkpoint)[path],
                                  seen[-1][1][path])
    # Resumed, the next update continues the saved average:
    # average' = d * average + (1 - d) * raw', with d = 0.5.
    batch = ({"token_ids": np.full((1, 4), 7, "int32"),
              "padding_mask": np.ones((1, 4), "int32"),
              "segment_ids": np.zeros((1, 4), "int32"),
              "casing_ids": np.zeros((1, 4), "int32")},
             np.zeros((1, 4), "int32"), np.full((1, 4), 0.25, "float32"))
    checkpoint.micro_batches = 1
    train_step(checkpoint, batch)
    np.testing.assert_allclose(
        ema_values(checkpoint)[path],
        0.5 * seen[-1][1][path]
        + 0.5 * np.array(checkpoint.classifier_head.kernel), atol=1e-7)
