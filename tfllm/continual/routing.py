"""Predicting an input's task when its id is not given (per-task adapters).

With one adapter per task over a frozen encoder, the frozen encoder's own
features do not change as tasks are added, so a task-id classifier over
them can be grown one task at a time without keeping any past input. The
router here is linear discriminant analysis with a shared covariance
(Fisher 1936; Hastie, Tibshirani & Friedman, "The Elements of Statistical
Learning", Sec. 4.3), built from per-task sufficient statistics (count,
sum, sum of outer products), with the covariance shrunk towards a scaled
identity (Ledoit & Wolf 2004 style, a fixed shrinkage weight) so that a
few hundred examples in 384 dimensions give a well-conditioned inverse.
"""

import numpy as np


class TaskRouter:
    """A task-id classifier grown one task at a time, keeping no inputs.

    Args:
        shrinkage: float in [0, 1]. Weight of the scaled identity in the
            shared covariance. Default 0.1.

    Examples:
    ```python
    router = TaskRouter()
    router.add_task(0, features_of_task_0)   # [N0, H]
    router.add_task(1, features_of_task_1)
    router.predict(features)                 # int [N]
    ```
    """

    def __init__(self, shrinkage=0.1):
        if not 0.0 <= shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
        self.shrinkage = float(shrinkage)
        self.stats = {}  # task -> (count, sum [H], outer sum [H, H])

    def add_task(self, task, features):
        """Adds (or replaces) task `task`'s statistics.

        Args:
            task: int. The task id.
            features: float array `[N, H]`, N >= 1.

        Raises:
            ValueError: empty or non-2-D features, or a dimension that
                differs from earlier tasks'.
        """
        features = np.asarray(features, np.float64)
        if features.ndim != 2 or len(features) == 0:
            raise ValueError(f"features must be [N >= 1, H], got shape "
                             f"{features.shape}")
        for count, total, _ in self.stats.values():
            if total.shape[0] != features.shape[1]:
                raise ValueError(f"feature dimension {features.shape[1]} "
                                 f"!= {total.shape[0]} of earlier tasks")
        self.stats[int(task)] = (len(features), features.sum(0),
                                 features.T @ features)

    def _parameters(self, tasks):
        means = {t: self.stats[t][1] / self.stats[t][0] for t in tasks}
        dim = next(iter(means.values())).shape[0]
        scatter = np.zeros((dim, dim))
        total = 0
        for t in tasks:
            count, _, outer = self.stats[t]
            scatter += outer - count * np.outer(means[t], means[t])
            total += count
        covariance = scatter / max(total - len(tasks), 1)
        scale = np.trace(covariance) / dim if dim else 1.0
        covariance = (1 - self.shrinkage) * covariance + \
            self.shrinkage * scale * np.eye(dim)
        precision = np.linalg.pinv(covariance)
        return means, precision

    def predict(self, features, allowed=None):
        """The most likely task of each input (equal priors).

        Args:
            features: float array `[N, H]`.
            allowed: iterable of task ids to choose among, or None (all
                tasks added).

        Returns:
            int64 array `[N]` of task ids.

        Raises:
            ValueError: no task added (or none of `allowed`).
        """
        tasks = sorted(self.stats if allowed is None else
                       [int(t) for t in allowed if int(t) in self.stats])
        if not tasks:
            raise ValueError("the router has no task to choose from")
        if len(tasks) == 1:
            return np.full(len(features), tasks[0], np.int64)
        means, precision = self._parameters(tasks)
        features = np.asarray(features, np.float64)
        scores = np.stack([
            features @ precision @ means[t]
            - 0.5 * means[t] @ precision @ means[t] for t in tasks], -1)
        return np.asarray(tasks, np.int64)[np.argmax(scores, -1)]
