"""A continual run's report: `continual.json`, a heat map of `R`, and the
same figures in TensorBoard."""

import json
import math

import numpy as np

from tfllm.utils.atomic import atomic_path


def plot_matrix(result, path):
    """Draws `R` as a heat map (rows: after training task i; columns: task
    j scored) into a PNG at `path`, each cell written as a percentage.

    Args:
        result: `ContinualResult`.
        path: str or path. The PNG to write (atomically).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(result.R, np.float64)
    rows = ["multitask"] if result.method == "multitask" else \
        [f"after {name}" for name in result.tasks]
    figure, axes = plt.subplots(figsize=(1.6 + 1.3 * len(result.tasks),
                                         1.2 + 0.6 * len(rows)))
    shown = np.ma.masked_invalid(matrix)
    image = axes.imshow(shown, vmin=0.0, vmax=1.0, cmap="viridis")
    axes.set_xticks(range(len(result.tasks)), result.tasks, rotation=30,
                    ha="right")
    axes.set_yticks(range(len(rows)), rows)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if not math.isnan(matrix[i, j]):
                axes.text(j, i, f"{100 * matrix[i, j]:.1f}", ha="center",
                          va="center", color="white" if matrix[i, j] < 0.6
                          else "black", fontsize=9)
    label = "accuracy" if result.metric == "accuracy" else "entity F1"
    axes.set_title(f"{result.method}: {label} (validation)", fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=110, format="png")
    plt.close(figure)


def write_report(result, run_dir, writer=None):
    """Writes `continual.json` and `continual_R.png` into `run_dir`; with a
    `tf.summary` writer, also the summary figures and the heat map image.

    Returns:
        dict: `result.summary()`.
    """
    import pathlib

    run_dir = pathlib.Path(run_dir)
    summary = result.summary()
    with atomic_path(run_dir / "continual.json") as temp:
        temp.write_text(json.dumps(summary, indent=2) + "\n")
    plot_matrix(result, run_dir / "continual_R.png")
    if writer is not None:
        import tensorflow as tf

        with writer.as_default():
            for key in ("average_accuracy", "backward_transfer",
                        "forgetting", "forward_transfer"):
                if summary.get(key) is not None:
                    tf.summary.scalar(f"continual_summary/{key}",
                                      summary[key], step=0)
            png = (run_dir / "continual_R.png").read_bytes()
            image = tf.expand_dims(tf.image.decode_png(png, channels=4), 0)
            tf.summary.image("continual/R", image, step=0)
        writer.flush()
    return summary


def format_summary(summary):
    """A few lines for the console: `R` as a table, then the figures."""
    tasks = summary["tasks"]
    width = max(len(t) for t in tasks) + 2
    names = ["multitask"] if summary["method"] == "multitask" else \
        [f"after {t}" for t in tasks]
    first = max(len(n) for n in names) + 1
    lines = [" " * first + "".join(f"{t:>{width}}" for t in tasks)]
    for name, row in zip(names, summary["R"]):
        lines.append(f"{name:<{first}}" + "".join(
            f"{'-' if v is None else f'{v:.4f}':>{width}}" for v in row))
    lines.append(f"average {summary['metric']} at the end: "
                 f"{summary['average_accuracy']:.4f}")
    if summary["method"] != "multitask":
        lines.append(f"backward transfer (BWT): "
                     f"{summary['backward_transfer']:+.4f}; forgetting: "
                     f"{summary['forgetting']:.4f}"
                     + ("" if summary.get("forward_transfer") is None else
                        f"; forward transfer: "
                        f"{summary['forward_transfer']:+.4f}"))
    if summary.get("routed"):
        routed = summary["routed"]
        lines.append(f"task id predicted by the router: average "
                     f"{routed['average_accuracy']:.4f}, BWT "
                     f"{routed['backward_transfer']:+.4f}, routing accuracy "
                     f"at the end {routed['routing_accuracy'][-1]:.4f}")
    return "\n".join(lines)
