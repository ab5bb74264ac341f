"""Elastic weight consolidation (EWC) for fine-tuning a task sequence.

Kirkpatrick et al. 2017, "Overcoming catastrophic forgetting in neural
networks" (PNAS), eq. 3: after task `k` the shared weights `theta` are
anchored at their values `theta*_k` by a quadratic penalty weighted by the
diagonal of the Fisher information `F_k` of task `k`:

    L(theta) = L_new(theta) + (lambda / 2) sum_k sum_i F_k,i (theta_i - theta*_k,i)^2

One penalty per earlier task, as in the paper. Its sum is kept in constant
memory: with `A = sum_k F_k`, `m = (sum_k F_k theta*_k) / A` and
`c = sum_k F_k theta*_k^2 - A m^2` (element-wise),

    sum_k F_k (theta - theta*_k)^2 = A (theta - m)^2 + c,

so two tensors per weight (and one scalar) hold every earlier task.

The Fisher diagonal is estimated from per-example gradients of the
log-likelihood of the gold labels (the "empirical Fisher"; Kirkpatrick et
al. use labels sampled from the model, which costs the same and needs
another pass per sample; Martens 2020, "New insights and perspectives on
the natural gradient method", Sec. 11, discusses the difference).
"""

import numpy as np
import tensorflow as tf


def _dense_square(gradient, variable):
    if isinstance(gradient, tf.IndexedSlices):
        # Sum rows hit twice before squaring (a word used twice in one
        # example), then scatter the squares into a dense zero tensor.
        unique, index = tf.unique(gradient.indices)
        rows = tf.math.unsorted_segment_sum(
            gradient.values, index, tf.shape(unique)[0])
        return tf.scatter_nd(tf.expand_dims(unique, -1), tf.square(rows),
                             tf.shape(variable, out_type=unique.dtype))
    return tf.square(tf.convert_to_tensor(gradient))


def fisher_diagonal(variables, example_losses):
    """The diagonal empirical Fisher information of `variables`.

    `F_i = (1/N) sum_n (d loss_n / d theta_i)^2`, where `loss_n` is the
    negative log-likelihood of example `n` (per-example gradients: the
    squared gradient of a batch mean would not be the Fisher).

    Args:
        variables: list of `tf.Variable`, the weights to protect.
        example_losses: iterable of zero-argument callables, each returning
            one example's scalar negative log-likelihood (computed from
            `variables`).

    Returns:
        list of float32 numpy arrays, one per variable, its shape.

    Raises:
        ValueError: `example_losses` is empty.
    """
    totals = [tf.zeros(v.shape, tf.float32) for v in variables]
    count = 0
    for loss_fn in example_losses:
        with tf.GradientTape() as tape:
            loss = tf.cast(loss_fn(), tf.float32)
        gradients = tape.gradient(loss, variables)
        totals = [t if g is None else t + tf.cast(_dense_square(g, v),
                                                  tf.float32)
                  for t, g, v in zip(totals, gradients, variables)]
        count += 1
    if count == 0:
        raise ValueError("the Fisher information needs at least one example")
    return [t.numpy() / count for t in totals]


class EWCPenalty:
    """The accumulated EWC penalty over the tasks trained so far.

    Args:
        variables: list of `tf.Variable`, the shared weights (the backbone;
            task heads are not shared and not penalized).
        strength: float. `lambda` in the formula above. Defaults to 1.0.

    Call:
        Returns the float32 scalar `(lambda/2) (sum_i A_i (theta_i - m_i)^2
        + c)`; 0.0 before `add_task`.

    Examples:
    ```python
    penalty = EWCPenalty(model.backbone.trainable_variables, strength=1e4)
    penalty.add_task(fisher_diagonal(...), [v.numpy() for v in variables])
    loss = task_loss + penalty()
    ```
    """

    def __init__(self, variables, strength=1.0):
        self.variables = list(variables)
        self.strength = float(strength)
        self.tasks = 0
        self.precision = [tf.Variable(tf.zeros(v.shape, tf.float32),
                                      trainable=False) for v in self.variables]
        self.center = [tf.Variable(tf.zeros(v.shape, tf.float32),
                                   trainable=False) for v in self.variables]
        self.constant = tf.Variable(0.0, trainable=False, dtype=tf.float64)

    def add_task(self, fisher, anchor):
        """Adds one finished task's penalty term.

        Args:
            fisher: list of arrays, `fisher_diagonal`'s output (one per
                variable, same shapes).
            anchor: list of arrays, the weights after that task.

        Raises:
            ValueError: lengths or shapes differ from `variables`.
        """
        if len(fisher) != len(self.variables) or \
                len(anchor) != len(self.variables):
            raise ValueError(f"expected {len(self.variables)} Fisher and "
                             f"anchor arrays, got {len(fisher)} and "
                             f"{len(anchor)}")
        constant = 0.0
        for precision, center, f, theta in zip(self.precision, self.center,
                                               fisher, anchor):
            f = np.asarray(f, np.float64)
            theta = np.asarray(theta, np.float64)
            if f.shape != tuple(precision.shape) or theta.shape != f.shape:
                raise ValueError(f"Fisher/anchor shape {f.shape}/"
                                 f"{theta.shape} != weight shape "
                                 f"{tuple(precision.shape)}")
            a_old = precision.numpy().astype(np.float64)
            m_old = center.numpy().astype(np.float64)
            a_new = a_old + f
            weighted = a_old * m_old + f * theta
            m_new = np.where(a_new > 0, weighted / np.where(a_new > 0, a_new,
                                                            1.0), theta)
            constant += float(np.sum(a_old * m_old ** 2 + f * theta ** 2
                                     - a_new * m_new ** 2))
            precision.assign(a_new.astype(np.float32))
            center.assign(m_new.astype(np.float32))
        self.constant.assign_add(max(constant, 0.0))
        self.tasks += 1

    def __call__(self):
        if not self.tasks:
            return tf.constant(0.0, tf.float32)
        total = tf.add_n([
            tf.reduce_sum(a * tf.square(tf.cast(v, tf.float32) - m))
            for v, a, m in zip(self.variables, self.precision, self.center)])
        total += tf.cast(self.constant, tf.float32)
        return 0.5 * self.strength * total
