"""Sentence-level uncertainty for sequence labelling (NER).

A tagger gives a probability distribution over tags for each word; active
learning labels whole sentences, so the word scores are aggregated per
sentence over the real (masked-in) words. `max` favours sentences with one
very uncertain word, `sum` long sentences (more words to label, more
information), `mean` neither (Settles & Craven 2008, "An Analysis of Active
Learning Strategies for Sequence Labeling Tasks"; Shen et al. 2018, "Deep
Active Learning for Named Entity Recognition", who normalise by length).

With a CRF, `sequence_least_confidence` is the sequence-level measure
`1 - P(y* | x)` of the Viterbi path y* (Culotta & McCallum 2005, "Reducing
Labeling Effort for Structured Prediction Tasks").
"""

import numpy as np

AGGREGATIONS = ("max", "mean", "sum")


def aggregate(token_scores, mask, how="max"):
    """Per-sentence aggregate of per-word scores over masked-in words.

    Args:
        token_scores: float `[N, W]` (a word's uncertainty, e.g.
            `tfllm.active.strategies.entropy_scores` of `[N, W, C]`).
        mask: bool or 0/1 `[N, W]`; 1 on real words, 0 on padding.
        how: str. `"max"` (default), `"mean"` or `"sum"`.

    Returns:
        float64 `[N]`; 0 for a sentence without words.

    Raises:
        ValueError: unknown `how`, or shapes that differ.
    """
    scores = np.asarray(token_scores, dtype=np.float64)
    mask = np.asarray(mask).astype(bool)
    if scores.shape != mask.shape or scores.ndim != 2:
        raise ValueError(f"token_scores {scores.shape} and mask {mask.shape}"
                         " must both be [N, W]")
    if how not in AGGREGATIONS:
        raise ValueError(f"aggregation {how!r}: use one of "
                         f"{', '.join(AGGREGATIONS)}")
    counts = mask.sum(axis=1)
    if how == "max":
        out = np.where(mask, scores, -np.inf).max(axis=1, initial=-np.inf)
        return np.where(counts > 0, out, 0.0)
    total = np.where(mask, scores, 0.0).sum(axis=1)
    if how == "sum":
        return total
    return total / np.maximum(counts, 1)


def sequence_uncertainty(probabilities, mask, score, how="max"):
    """Sentence scores from per-word tag probabilities.

    Args:
        probabilities: float `[N, W, C]` per-word tag distributions (a
            softmax head's, or a CRF head's emission softmax: per-word
            marginals of the emissions, not of the CRF), or `[T, N, W, C]`
            MC-dropout passes for `score=bald_scores`.
        mask: bool `[N, W]`, 1 on real words.
        score: a `tfllm.active.strategies` score function
            (`least_confidence_scores`, `margin_scores`, `entropy_scores`,
            `bald_scores`).
        how: str. `"max"`, `"mean"` or `"sum"`.

    Returns:
        float64 `[N]`, higher is more uncertain.
    """
    return aggregate(score(probabilities), mask, how)


def sequence_least_confidence(best_path_probability):
    """`1 - P(y* | x)` per sentence from the Viterbi path's probability.

    Args:
        best_path_probability: float `[N]` in [0, 1], `exp` of the CRF
            log-likelihood of its own best path.

    Returns:
        float64 `[N]`.

    Raises:
        ValueError: values outside [0, 1].
    """
    p = np.asarray(best_path_probability, dtype=np.float64)
    if ((p < -1e-6) | (p > 1 + 1e-6)).any():
        raise ValueError("best-path probabilities must lie in [0, 1]")
    return 1.0 - p
