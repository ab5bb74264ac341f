"""Learning curves of active learning runs: labels used -> metric."""

import json
import pathlib


def labels_to_reach(curve, target):
    """The smallest number of labels at which the metric reaches `target`.

    Args:
        curve: list of dicts with `labels` (int) and `metric` (float), as
            in `learning_curve.json` (any order).
        target: float.

    Returns:
        int, or None when no point reaches `target`.
    """
    reached = [point["labels"] for point in curve
               if point["metric"] >= target]
    return min(reached) if reached else None


def write_curve(path, curve, **info):
    """Writes `{"curve": curve, **info}` as JSON (atomically: a crash
    leaves the previous file).

    Args:
        path: str or path. `learning_curve.json`.
        curve: list of per-round dicts.
        **info: other keys (strategy, metric name, settings).
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps({**info, "curve": curve}, indent=2),
                       encoding="utf-8")
    partial.replace(path)


def plot_learning_curves(curves, path, metric="accuracy", title=None):
    """One PNG with a line per strategy: metric against labels used.

    Args:
        curves: dict name -> curve (list of dicts with `labels` and
            `metric`).
        path: str or path. The PNG file.
        metric: str. The y-axis name.
        title: str or None.

    Returns:
        `pathlib.Path` of the PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        points = sorted((p["labels"], p["metric"]) for p in curve)
        if points:
            axes.plot(*zip(*points), marker="o", label=name)
    axes.set_xlabel("labelled examples")
    axes.set_ylabel(metric)
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
