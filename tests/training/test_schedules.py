"""Outside case BR-16 (schedule part, and resume through a .keras file)."""

import keras
import numpy as np
import pytest

from tfllm.training.schedules import WarmupLinearDecay

TABLE = [0.025, 0.05, 0.075, 0.1, 0.083333, 0.066667, 0.05, 0.033333,
         0.016667, 0.0]
X = np.array([[1.0], [2.0], [3.0], [4.0]], "float32")
Y = 2 * X


def test_br16_learning_rate_per_update():
    schedule = WarmupLinearDecay(0.1, 4, 10)
    rates = [float(schedule(step)) for step in range(10)]  # iterations 0..9
    np.testing.assert_allclose(rates, TABLE, atol=1e-6)
    assert float(schedule(20)) == 0.0
    per_update = WarmupLinearDecay(0.1, 4, 10, steps_per_update=3)
    np.testing.assert_allclose(
        [float(per_update(micro)) for micro in range(30)],
        np.repeat(TABLE, 3), atol=1e-6)
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        WarmupLinearDecay(0.1, 10, 10)


def make_model():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(
        1, use_bias=False, kernel_initializer="ones")])
    model.compile(keras.optimizers.Adam(WarmupLinearDecay(0.1, 4, 10)), "mse")
    return model


def test_br16_run_a_and_resumed_run_b(tmp_path):
    run_a = make_model()
    run_a.fit(X, Y, batch_size=4, epochs=6, shuffle=False, verbose=0)
    w_a = float(run_a.layers[0].kernel.numpy()[0, 0])
    assert w_a == pytest.approx(1.3949687, abs=1e-6)
    assert int(run_a.optimizer.iterations) == 6

    run_b = make_model()
    run_b.fit(X, Y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    run_b.save(tmp_path / "b.keras")
    resumed = keras.models.load_model(tmp_path / "b.keras")
    assert int(resumed.optimizer.iterations) == 3
    assert float(resumed.optimizer.learning_rate) == pytest.approx(0.1)
    resumed.fit(X, Y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    assert float(resumed.layers[0].kernel.numpy()[0, 0]) == pytest.approx(
        w_a, abs=1e-6)
    assert int(resumed.optimizer.iterations) == 6
