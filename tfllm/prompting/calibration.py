"""Label probabilities from scores, and contextual calibration.

Zhao et al. (2021), "Calibrate Before Use: Improving Few-Shot Performance
of Language Models" (ICML): a prompt biases the model towards some labels
(majority label, recency, common tokens). Contextual calibration measures
that bias as the label probabilities `p_cf` the prompt gives to
content-free inputs ("N/A", "", "[MASK]", averaged) and rescales every
prediction by them: `W = diag(p_cf)^-1`, `b = 0`, so
`q = normalise(p / p_cf)` (their Eq. 1 with their chosen `W`, `b`).
"""

import numpy as np
from scipy.special import softmax

CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")


def label_probabilities(scores):
    """Softmax over labels of log-domain scores.

    Args:
        scores: float array `[n, num_labels]`, natural-log likelihoods
            (or length-normalised ones) of each label.

    Returns:
        float64 array `[n, num_labels]`, rows summing to 1.
    """
    return softmax(np.asarray(scores, np.float64), axis=-1)


def content_free_probabilities(probabilities):
    """`p_cf`: the mean label distribution of the content-free inputs.

    Args:
        probabilities: float array `[num_inputs, num_labels]`, each row
            normalised over labels (`label_probabilities`).

    Returns:
        float64 array `[num_labels]`, summing to 1.
    """
    p_cf = np.asarray(probabilities, np.float64).mean(axis=0)
    return p_cf / p_cf.sum()


def calibrate(probabilities, p_cf):
    """Contextual calibration: `q ∝ p / p_cf`, renormalised over labels.

    Args:
        probabilities: float array `[n, num_labels]`, rows normalised.
        p_cf: float array `[num_labels]`, strictly positive.

    Returns:
        float64 array `[n, num_labels]`, rows summing to 1.

    Raises:
        ValueError: shapes disagree or `p_cf` has a non-positive entry.
    """
    probabilities = np.asarray(probabilities, np.float64)
    p_cf = np.asarray(p_cf, np.float64)
    if probabilities.shape[-1] != p_cf.shape[-1]:
        raise ValueError(f"{probabilities.shape[-1]} labels in the "
                         f"probabilities, {p_cf.shape[-1]} in p_cf")
    if np.any(p_cf <= 0):
        raise ValueError(f"p_cf must be positive: {p_cf}")
    q = probabilities / p_cf
    return q / q.sum(axis=-1, keepdims=True)
