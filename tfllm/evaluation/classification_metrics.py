"""Scores of a text classifier: accuracy, F1, reports, confusions.

Single-label scores use scikit-learn (`classification_report`,
`confusion_matrix`); multi-label scores treat each label as a binary
decision (micro, macro and weighted F1, and exact-set accuracy).
"""

import numpy as np
from sklearn import metrics


def most_confused(matrix, id2label, top=10):
    """The largest off-diagonal cells of a confusion matrix.

    Args:
        matrix: int array `[num_labels, num_labels]`, rows gold, columns
            predicted.
        id2label: list of str.
        top: int. How many pairs to return.

    Returns:
        list of dicts `{"gold", "predicted", "count"}`, largest count first
        (ties in label order); zero cells are left out.
    """
    matrix = np.asarray(matrix)
    pairs = [
        (int(matrix[g, p]), g, p)
        for g in range(len(matrix)) for p in range(len(matrix))
        if g != p and matrix[g, p] > 0
    ]
    pairs.sort(key=lambda x: (-x[0], x[1], x[2]))
    return [{"gold": id2label[g], "predicted": id2label[p], "count": c}
            for c, g, p in pairs[:top]]


def single_label_report(gold, predicted, id2label):
    """Scores class-id predictions.

    Args:
        gold, predicted: int arrays `[n]` of label ids.
        id2label: list of str.

    Returns:
        dict: `accuracy`, `macro_f1`, `weighted_f1` (floats), `report`
        (scikit-learn's dict, every label listed even without support),
        `report_text`, `confusion_matrix` (list of lists, rows gold),
        `most_confused` (see `most_confused`), `num_examples`.
    """
    labels = list(range(len(id2label)))
    kwargs = dict(labels=labels, zero_division=0)
    matrix = metrics.confusion_matrix(gold, predicted, labels=labels)
    return {
        "accuracy": float(metrics.accuracy_score(gold, predicted)),
        "macro_f1": float(metrics.f1_score(
            gold, predicted, average="macro", **kwargs)),
        "weighted_f1": float(metrics.f1_score(
            gold, predicted, average="weighted", **kwargs)),
        "report": metrics.classification_report(
            gold, predicted, target_names=id2label, output_dict=True,
            **kwargs),
        "report_text": metrics.classification_report(
            gold, predicted, target_names=id2label, digits=4, **kwargs),
        "confusion_matrix": matrix.tolist(),
        "most_confused": most_confused(matrix, id2label),
        "num_examples": int(len(gold)),
    }


def multi_label_report(gold, predicted, id2label):
    """Scores multi-label decisions.

    Args:
        gold, predicted: 0/1 arrays `[n, num_labels]`.
        id2label: list of str.

    Returns:
        dict: `accuracy` (exact label set), `micro_f1`, `macro_f1`,
        `weighted_f1`, `report`, `report_text`, `num_examples`.
    """
    gold, predicted = np.asarray(gold, int), np.asarray(predicted, int)
    kwargs = dict(zero_division=0)
    return {
        "accuracy": float(metrics.accuracy_score(gold, predicted)),
        "micro_f1": float(metrics.f1_score(
            gold, predicted, average="micro", **kwargs)),
        "macro_f1": float(metrics.f1_score(
            gold, predicted, average="macro", **kwargs)),
        "weighted_f1": float(metrics.f1_score(
            gold, predicted, average="weighted", **kwargs)),
        "report": metrics.classification_report(
            gold, predicted, target_names=id2label, output_dict=True,
            **kwargs),
        "report_text": metrics.classification_report(
            gold, predicted, target_names=id2label, digits=4, **kwargs),
        "num_examples": int(len(gold)),
    }


def tune_thresholds(probabilities, gold, grid=None):
    """Per-label thresholds that maximise each label's F1 on a split.

    Args:
        probabilities: float array `[n, num_labels]` (sigmoid outputs).
        gold: 0/1 array `[n, num_labels]`.
        grid: candidate thresholds; default 0.05, 0.10, ..., 0.95.

    Returns:
        list of float, one per label; 0.5 for a label without positives
        (ties go to the threshold nearest 0.5).
    """
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2) if grid is None else (
        np.asarray(grid))
    probabilities, gold = np.asarray(probabilities), np.asarray(gold, int)
    order = np.argsort(np.abs(grid - 0.5), kind="stable")
    thresholds = []
    for label in range(gold.shape[1]):
        if gold[:, label].sum() == 0:
            thresholds.append(0.5)
            continue
        scores = [metrics.f1_score(gold[:, label],
                                   probabilities[:, label] >= grid[i],
                                   zero_division=0) for i in order]
        thresholds.append(float(grid[order[int(np.argmax(scores))]]))
    return thresholds


def mean_and_std(values):
    """`(mean, sample standard deviation)` of fold scores (std 0 for one)."""
    values = np.asarray(values, float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std
