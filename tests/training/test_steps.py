"""Outside cases BR-11 (mixed precision) and BR-12 (MirroredStrategy)."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from tfllm.training.steps import train_step


class Probe(keras.Model):
    """A one-weight model that trains with tfllm's train step."""

    def train_step(self, data):
        return train_step(self, data)


def probe(initializer="ones"):
    inputs = keras.Input((1,))
    outputs = keras.layers.Dense(1, use_bias=False,
                                 kernel_initializer=initializer)(inputs)
    return Probe(inputs, outputs)


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def fit_steps(x, steps, inner=None):
    model = probe()
    optimizer = keras.optimizers.LossScaleOptimizer(
        inner or keras.optimizers.SGD(0.1))
    model.compile(optimizer=optimizer, loss="mse")
    for _ in range(steps):
        model.fit(np.array(x, "float32"), np.zeros((1, 1), "float32"),
                  epochs=1, verbose=0)
    return model, optimizer


def weight(model):
    return float(np.asarray(model.trainable_variables[0]).reshape(-1)[0])


def test_br11_one_step_equals_fp32(mixed_float16):
    model, optimizer = fit_steps([[0.5]], 1)
    assert weight(model) == pytest.approx(0.95, abs=1e-6)
    assert int(optimizer.iterations) == 1


def test_br11_overflowing_steps_are_skipped(mixed_float16):
    model, optimizer = fit_steps([[2.0]], 3)
    assert weight(model) == 1.0
    assert int(optimizer.iterations) == 0
    assert float(optimizer.dynamic_scale) == 4096.0
    model.fit(np.array([[2.0]], "float32"), np.zeros((1, 1), "float32"),
              epochs=1, verbose=0)
    assert weight(model) == pytest.approx(0.2, abs=1e-6)
    assert int(optimizer.iterations) == 1


def test_br11_inner_loss_scale_factor(mixed_float16):
    model, _ = fit_steps([[0.5]], 1, keras.optimizers.SGD(
        0.1, loss_scale_factor=4.0))
    assert weight(model) == pytest.approx(0.95, abs=1e-6)


BR12 = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    sys.path.insert(0, {tests!r})
    from training.test_steps import probe
    replicas = int(sys.argv[1])
    devices = ["/cpu:0", "/cpu:1"][:replicas]
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = probe("zeros")
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x = np.array([[1.0], [2.0], [3.0], [4.0]], "float32")
    history = model.fit(x, 2 * x, batch_size=4, epochs=1, shuffle=False,
                        verbose=0)
    w = float(np.asarray(model.trainable_variables[0]).reshape(-1)[0])
    print(json.dumps([history.history["loss"][0], w]))
""")


@pytest.mark.parametrize("replicas", [1, 2])
def test_br12_mirrored_loss_and_update(replicas):
    import pathlib
    tests = str(pathlib.Path(__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", BR12.format(tests=tests), str(replicas)],
        capture_output=True, text=True, check=True).stdout
    loss, w = json.loads(out.strip().splitlines()[-1])
    assert loss == pytest.approx(30.0, abs=1e-5)
    assert w == pytest.approx(0.3, abs=1e-6)
