"""Scores of a continual-learning run: the accuracy matrix and what it says.

After training on task `i` (rows, in training order) every task `j` seen so
far is scored (columns): `R[i, j]`. From it, following Lopez-Paz & Ranzato
2017 ("Gradient Episodic Memory for Continual Learning", Sec. 4):

- average accuracy `ACC = (1/T) sum_j R[T-1, j]`, the scores at the end;
- backward transfer `BWT = 1/(T-1) sum_{j<T-1} (R[T-1, j] - R[j, j])`:
  how learning later tasks changed earlier ones (negative: forgetting);
- forward transfer `FWT = 1/(T-1) sum_{j>0} (R[j-1, j] - b_j)`, where `b_j`
  is task `j`'s score before any training (optional);

and forgetting (Chaudhry et al. 2018, "Riemannian Walk for Incremental
Learning", Sec. 4.1): `f_j = max_{l<T-1} R[l, j] - R[T-1, j]`, averaged over
the tasks before the last.

Scores are fractions in [0, 1] (accuracy, or entity-level F1 for NER).
Entries not yet defined (task `j` after training on `i < j`) are NaN.
"""

import math

import numpy as np


def empty_matrix(num_tasks):
    """A `[num_tasks, num_tasks]` float64 matrix of NaN, to be filled row by
    row."""
    return np.full((num_tasks, num_tasks), np.nan)


def _check(matrix):
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or \
            matrix.shape[0] == 0:
        raise ValueError(f"R must be a non-empty square matrix, got shape "
                         f"{matrix.shape}")
    for i in range(matrix.shape[0]):
        if np.isnan(matrix[i, :i + 1]).any():
            raise ValueError(f"R[{i}, :{i + 1}] has missing scores: after "
                             f"task {i} every task seen so far is scored")
    return matrix


def average_accuracy(matrix):
    """`(1/T) sum_j R[T-1, j]`: mean final score over all `T` tasks.

    Args:
        matrix: `[T, T]` array-like, lower triangle filled.

    Returns:
        float.

    Raises:
        ValueError: not square, or a lower-triangle entry is missing.
    """
    matrix = _check(matrix)
    return float(np.mean(matrix[-1]))


def backward_transfer(matrix):
    """BWT (Lopez-Paz & Ranzato 2017, eq. 2); 0.0 for a single task.

    Args:
        matrix: `[T, T]` array-like, lower triangle filled.

    Returns:
        float: mean over `j < T-1` of `R[T-1, j] - R[j, j]`.
    """
    matrix = _check(matrix)
    count = matrix.shape[0] - 1
    if count == 0:
        return 0.0
    return float(np.mean([matrix[-1, j] - matrix[j, j]
                          for j in range(count)]))


def forgetting(matrix):
    """Average forgetting (Chaudhry et al. 2018); 0.0 for a single task.

    Args:
        matrix: `[T, T]` array-like, lower triangle filled.

    Returns:
        float: mean over `j < T-1` of `max_{j<=l<T-1} R[l, j] - R[T-1, j]`.
    """
    matrix = _check(matrix)
    count = matrix.shape[0] - 1
    if count == 0:
        return 0.0
    return float(np.mean([np.max(matrix[j:count, j]) - matrix[-1, j]
                          for j in range(count)]))


def forward_transfer(matrix, baseline):
    """FWT (Lopez-Paz & Ranzato 2017, eq. 3); None if `baseline` is None.

    Args:
        matrix: `[T, T]` array-like with `R[j-1, j]` filled for `j >= 1`
            (score the next task after each one to get it).
        baseline: `[T]` array-like or None: each task's score before any
            training (`b_j`).

    Returns:
        float, None, or NaN when an `R[j-1, j]` is missing.
    """
    if baseline is None:
        return None
    matrix = np.asarray(matrix, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    count = matrix.shape[0] - 1
    if count == 0:
        return 0.0
    return float(np.mean([matrix[j - 1, j] - baseline[j]
                          for j in range(1, count + 1)]))


def summarize(matrix, baseline=None):
    """All the figures of a run, as plain floats.

    Args:
        matrix: `[T, T]` array-like, lower triangle filled.
        baseline: `[T]` or None; see `forward_transfer`.

    Returns:
        dict: `average_accuracy`, `backward_transfer`, `forgetting`,
        `forward_transfer` (None without a baseline) and `R` (list of rows,
        None where undefined).
    """
    matrix = _check(matrix)
    fwt = forward_transfer(matrix, baseline)
    return {
        "average_accuracy": average_accuracy(matrix),
        "backward_transfer": backward_transfer(matrix),
        "forgetting": forgetting(matrix),
        "forward_transfer": None if fwt is None or math.isnan(fwt) else fwt,
        "R": [[None if math.isnan(v) else float(v) for v in row]
              for row in matrix],
    }
