"""Confusion-matrix pictures: a PNG file and a TensorBoard image."""

import io
import pathlib

import numpy as np
import tensorflow as tf


def confusion_matrix_png(matrix, id2label, title="confusion matrix"):
    """Draws a row-normalised confusion matrix (counts in small sets).

    Args:
        matrix: int array `[num_labels, num_labels]`, rows gold.
        id2label: list of str, the tick labels.
        title: str.

    Returns:
        bytes: a PNG image. Its size grows with the number of labels so
        that 77 intents stay readable.
    """
    from matplotlib.figure import Figure

    matrix = np.asarray(matrix)
    n = len(id2label)
    totals = matrix.sum(axis=1, keepdims=True)
    normalised = matrix / np.maximum(totals, 1)
    side = max(4.0, 0.22 * n + 2.5)
    figure = Figure(figsize=(side, side), dpi=100)
    axes = figure.add_subplot()
    image = axes.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04,
                    label="fraction of the gold row")
    axes.set_xticks(range(n), id2label, rotation=90,
                    fontsize=8 if n <= 20 else 5)
    axes.set_yticks(range(n), id2label, fontsize=8 if n <= 20 else 5)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title)
    if n <= 20:
        for g in range(n):
            for p in range(n):
                axes.text(p, g, str(matrix[g, p]), ha="center", va="center",
                          fontsize=7, color="white"
                          if normalised[g, p] > 0.5 else "black")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_confusion_matrix(run_dir, matrix, id2label, step, name):
    """Writes `<name>_confusion_matrix.png` and a TensorBoard image.

    The image goes to the `validation/` TensorBoard log of the run (tag
    `confusion_matrix/<name>`).

    Args:
        run_dir: str or path. The run folder.
        matrix: int array `[num_labels, num_labels]`.
        id2label: list of str.
        step: int. The TensorBoard step (the best epoch).
        name: str. Split name, e.g. `"validation"`.

    Returns:
        `pathlib.Path` of the PNG.
    """
    run_dir = pathlib.Path(run_dir)
    png = confusion_matrix_png(matrix, id2label, f"{name} confusion matrix")
    path = run_dir / f"{name}_confusion_matrix.png"
    path.write_bytes(png)
    writer = tf.summary.create_file_writer(str(run_dir / "validation"))
    with writer.as_default():
        tf.summary.image(f"confusion_matrix/{name}",
                         tf.image.decode_png(png, channels=4)[None],
                         step=step)
    writer.close()
    return path
