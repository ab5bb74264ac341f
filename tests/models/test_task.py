"""The shared train step: Keras' recipe, the loss reported as a mean."""

import subprocess
import sys

import keras
import pytest
import numpy as np
import tensorflow as tf

from tfllm.models.task import Task


class Linear(Task):
    def __init__(self, **kwargs):
        inputs = keras.Input(shape=(1,))
        outputs = keras.layers.Dense(
            1, use_bias=False, kernel_initializer="zeros")(inputs)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)


def test_one_step_matches_hand_computed_sgd():
    # BR-12's numbers on one replica: loss 30, gradient -30, w = 0.3.
    model = Linear()
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.MeanSquaredError())
    x = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    logs = model.fit(x, 2 * x, batch_size=4, epochs=1, verbose=0).history
    assert abs(logs["loss"][0] - 30.0) < 1e-5
    np.testing.assert_allclose(model.get_weights()[0], [[0.3]], atol=1e-6)
    assert int(model.optimizer.iterations) == 1


def test_sample_weight_reaches_the_loss():
    model = Linear()
    model.compile(optimizer=keras.optimizers.SGD(0.0),
                  loss=keras.losses.MeanSquaredError())
    x = tf.constant([[1.0], [2.0]])
    logs = model.fit(x, 2 * x, sample_weight=tf.constant([1.0, 0.0]),
                     batch_size=2, verbose=0).history
    assert abs(logs["loss"][0] - 2.0) < 1e-6  # (4 * 1 + 16 * 0) / 2


@pytest.mark.parametrize("make, module, cls", [
    ("tiny_token_classifier", "tfllm.models.token_classifier",
     "TokenClassifier"),
    ("tiny_text_classifier", "tfllm.models.text_classifier",
     "TextClassifier"),
])
def test_saved_task_loads_from_its_model_module_alone(tmp_path, make, module,
                                                      cls):
    # A fresh process that imports only the task's module (not the
    # preprocessor's) must rebuild the model: the task module registers it.
    import tiny
    model = getattr(tiny, make)()
    path = tmp_path / "model.keras"
    model.save(path)
    code = (f"from {module} import {cls}\n"
            "from tfllm.models.task import load_task_model\n"
            f"m = load_task_model({str(path)!r}, {cls})\n"
            "print(type(m.preprocessor).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, cwd="/")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("Preprocessor")
