"""Trend outputs: a PNG per topic and TensorBoard scalars per window."""

import datetime
import json
import pathlib
import re

from tfllm.utils.atomic import atomic_path


def _safe(topic):
    """A topic name usable in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", topic) or "_"


def read_window_rows(path):
    """Rows of `windows.jsonl` grouped by topic: `{topic: [row, ...]}`."""
    rows = {}
    path = pathlib.Path(path)
    if path.is_file():
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                rows.setdefault(row["topic"], []).append(row)
    return rows


def write_trend_plots(windows_path, output_dir):
    """One `trend_<topic>.png` per topic from `windows.jsonl`.

    Each plot shows the negative share per window, the baseline share the
    window was tested against, and a marker on every alert window.

    Args:
        windows_path: path of `windows.jsonl` (rows with `start`, `topic`,
            `negative_share`, `baseline_share`, `alert`).
        output_dir: folder for the PNGs (written atomically).

    Returns:
        list of `pathlib.Path` written.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    written = []
    for topic, rows in read_window_rows(windows_path).items():
        times = [datetime.datetime.fromisoformat(
            r["start"].replace("Z", "+00:00")) for r in rows]
        figure, axis = plt.subplots(figsize=(12, 4))
        axis.plot(times, [r["negative_share"] for r in rows], lw=0.8,
                  label="negative share")
        axis.plot(times, [r["baseline_share"] for r in rows], lw=1.2,
                  label="baseline (previous windows)")
        alerts = [(t, r["negative_share"]) for t, r in zip(times, rows)
                  if r["alert"]]
        if alerts:
            axis.scatter(*zip(*alerts), color="red", marker="v", zorder=3,
                         label="alert")
        axis.set_title(f"topic {topic}: negative share per window")
        axis.set_ylabel("share")
        axis.set_ylim(0, 1)
        axis.legend(loc="upper right")
        figure.autofmt_xdate()
        figure.tight_layout()
        final = pathlib.Path(output_dir) / f"trend_{_safe(topic)}.png"
        with atomic_path(final) as temp:
            figure.savefig(temp, dpi=100)
        plt.close(figure)
        written.append(final)
    return written


class ScalarWriter:
    """TensorBoard scalars per topic, step = window number.

    Tags `<topic>/negative_share`, `<topic>/baseline_share`,
    `<topic>/texts`, `<topic>/alert`. A restarted monitor may write a
    window's step again; TensorBoard shows the latest value.

    Args:
        log_dir: str or path. The TensorBoard folder.
    """

    def __init__(self, log_dir):
        import tensorflow as tf

        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(log_dir))

    def write(self, row):
        """Writes one `windows.jsonl` row."""
        tf = self._tf
        step = row["window"]
        with self._writer.as_default():
            tf.summary.scalar(f"{row['topic']}/texts", row["total"], step)
            tf.summary.scalar(f"{row['topic']}/alert", int(row["alert"]),
                              step)
            if row["negative_share"] is not None:
                tf.summary.scalar(f"{row['topic']}/negative_share",
                                  row["negative_share"], step)
            if row["baseline_share"] is not None:
                tf.summary.scalar(f"{row['topic']}/baseline_share",
                                  row["baseline_share"], step)

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()
