"""EWC's penalty and Fisher information against their closed forms
(issue 31)."""

import numpy as np
import pytest
import tensorflow as tf

from tfllm.continual.ewc import EWCPenalty
from tfllm.continual.ewc import fisher_diagonal


def test_penalty_is_zero_at_the_anchor_and_quadratic_around_it():
    w = tf.Variable([1.0, -2.0, 0.5])
    penalty = EWCPenalty([w], strength=4.0)
    assert float(penalty()) == 0.0  # no task yet
    penalty.add_task([np.array([0.5, 2.0, 0.0])], [w.numpy()])
    assert float(penalty()) == pytest.approx(0.0, abs=1e-7)
    w.assign([2.0, -1.0, 10.0])
    # (4 / 2) * (0.5 * 1^2 + 2 * 1^2 + 0 * 9.5^2) = 5
    assert float(penalty()) == pytest.approx(5.0, rel=1e-6)


def test_two_tasks_equal_the_sum_of_their_penalties():
    rng = np.random.default_rng(0)
    shapes = [(3,), (2, 2)]
    variables = [tf.Variable(rng.normal(size=s).astype(np.float32))
                 for s in shapes]
    penalty = EWCPenalty(variables, strength=3.0)
    tasks = []
    for _ in range(2):
        fisher = [rng.uniform(0, 2, size=s) for s in shapes]
        anchor = [rng.normal(size=s) for s in shapes]
        penalty.add_task(fisher, anchor)
        tasks.append((fisher, anchor))
    theta = [rng.normal(size=s) for s in shapes]
    for v, value in zip(variables, theta):
        v.assign(value.astype(np.float32))
    expected = 1.5 * sum(np.sum(f * (t - a) ** 2)
                         for fisher, anchor in tasks
                         for f, a, t in zip(fisher, anchor, theta))
    assert float(penalty()) == pytest.approx(expected, rel=1e-4)


def test_fisher_is_the_mean_of_squared_per_example_gradients():
    w = tf.Variable([1.0, 2.0])
    xs = [np.array([1.0, 0.0]), np.array([2.0, 1.0])]
    ys = [0.0, 1.0]

    def loss(x, y):  # 0.5 (w.x - y)^2, gradient (w.x - y) x
        return lambda: 0.5 * tf.square(tf.reduce_sum(w * x) - y)

    fisher = fisher_diagonal([w], [loss(x, y) for x, y in zip(xs, ys)])
    # example 1: residual 1 -> grad [1, 0]; example 2: residual 3 -> [6, 3]
    np.testing.assert_allclose(fisher[0], [(1 + 36) / 2, (0 + 9) / 2])


def test_fisher_of_embedding_rows_sums_repeated_rows_before_squaring():
    table = tf.Variable(np.ones((4, 2), np.float32))
    weight = tf.constant([1.0, 3.0])

    def loss():  # row 1 used twice: gradient 2 * weight on row 1
        rows = tf.gather(table, [1, 1, 2])
        return tf.reduce_sum(rows * weight)

    fisher = fisher_diagonal([table], [loss])[0]
    np.testing.assert_allclose(fisher, [[0, 0], [4, 36], [1, 9], [0, 0]])


def test_shape_mismatch_is_an_error():
    penalty = EWCPenalty([tf.Variable([1.0, 2.0])])
    with pytest.raises(ValueError, match="shape"):
        penalty.add_task([np.zeros(3)], [np.zeros(3)])
    with pytest.raises(ValueError, match="at least one"):
        fisher_diagonal([tf.Variable(1.0)], [])
