"""Entity-level and token-level scores for token classification.

Entity-level scores come from seqeval (Nakayama 2018). Two modes exist and
give different numbers for the same predictions, so every report names its
mode:

- `strict` (the default here): IOB2 as specified; an entity must start with
  `B-X` and continue with `I-X`. A stray `I-X` is no entity.
- `conlleval`: the lenient rule of the CoNLL `conlleval` script, where an
  `I-X` after `O` or another type opens an entity.

Scores are computed on word-level tags, after sub-token predictions were
mapped back to words.
"""

from seqeval.metrics import classification_report as seqeval_report
from seqeval.scheme import IOB2
from sklearn.metrics import classification_report as sklearn_report

MODES = ("strict", "conlleval")
AVERAGES = ("micro avg", "macro avg", "weighted avg")


def entity_report(true_tags, pred_tags, mode="strict"):
    """Entity-level precision, recall, F1 and support per type and averaged.

    Args:
        true_tags: list of lists of str. Gold IOB2 tags per sentence.
        pred_tags: list of lists of str. Predicted tags, same lengths.
        mode: `"strict"` (IOB2, default) or `"conlleval"` (lenient).

    Returns:
        dict: `{"mode": mode, "<TYPE>": {...}, "micro avg": {...},
        "macro avg": {...}, "weighted avg": {...}}`, each inner dict with
        `precision`, `recall`, `f1-score` (floats in [0, 1]) and `support`
        (gold entity count).

    Raises:
        ValueError: unknown mode, or a sentence whose predicted and gold tag
            counts differ (every word must have exactly one prediction).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if len(true_tags) != len(pred_tags):
        raise ValueError(
            f"{len(true_tags)} gold sentences but {len(pred_tags)} predicted"
        )
    for i, (t, p) in enumerate(zip(true_tags, pred_tags)):
        if len(t) != len(p):
            raise ValueError(
                f"sentence {i}: {len(t)} gold tags but {len(p)} predictions"
            )
    kwargs = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    report = seqeval_report(
        true_tags, pred_tags, output_dict=True, zero_division=0, **kwargs
    )
    result = {"mode": mode}
    for key, values in report.items():
        result[key] = {k: float(v) for k, v in values.items()}
        result[key]["support"] = int(values["support"])
    return result


def token_report(true_tags, pred_tags, labels=None):
    """Token-level (per-word tag) precision, recall, F1 and support.

    Args:
        true_tags: list of lists of str.
        pred_tags: list of lists of str, same lengths.
        labels: list of str or None. Tags to report, in this order; None
            means every tag seen, sorted.

    Returns:
        dict: `{tag: {...}, "micro avg": {...}, "macro avg": {...},
        "weighted avg": {...}}` with `precision`, `recall`, `f1-score`,
        `support`, computed by scikit-learn.
    """
    flat_true = [tag for tags in true_tags for tag in tags]
    flat_pred = [tag for tags in pred_tags for tag in tags]
    if labels is None:
        labels = sorted(set(flat_true) | set(flat_pred))
    report = sklearn_report(
        flat_true, flat_pred, labels=list(labels), output_dict=True,
        zero_division=0,
    )
    if "accuracy" in report:
        # With every label listed, micro P = R = F1 = accuracy.
        accuracy = float(report.pop("accuracy"))
        report["micro avg"] = {
            "precision": accuracy, "recall": accuracy,
            "f1-score": accuracy, "support": len(flat_true),
        }
    ordered = {label: report[label] for label in labels}
    for key in AVERAGES:
        ordered[key] = report[key]
    for values in ordered.values():
        values["support"] = int(values["support"])
    return ordered


def format_report(report, title, digits=4):
    """Renders a report dict as a fixed-width table (scikit-learn style).

    Args:
        report: dict from `entity_report` or `token_report`.
        title: str. First line, e.g. `"validation entity-level (strict)"`.
        digits: int. Decimals shown.

    Returns:
        str.
    """
    rows = [k for k in report if k != "mode"]
    width = max([len(r) for r in rows] + [12])
    header = " " * width + "".join(
        f"{h:>11}" for h in ("precision", "recall", "f1-score", "support")
    )
    lines = [title, header]
    for key in rows:
        if key in AVERAGES and key == AVERAGES[0]:
            lines.append("")
        values = report[key]
        lines.append(
            f"{key:>{width}}"
            + "".join(
                f"{values[m]:>11.{digits}f}"
                for m in ("precision", "recall", "f1-score")
            )
            + f"{values['support']:>11d}"
        )
    return "\n".join(lines)
