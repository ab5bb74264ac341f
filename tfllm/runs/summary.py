"""`summary.json` of a training run: the figures a benchmark quotes."""

import datetime
import json
import pathlib
import resource
import time

from tfllm.utils.machine import machine_description


def mean_of(history, key):
    """Mean of `key` over the per-epoch records that have it, or None."""
    values = [r[key] for r in history if key in r]
    return sum(values) / len(values) if values else None


def write_run_summary(run_dir, scores, history, encoded, start, extra=None,
                      unit=None):
    """Writes and prints `<run_dir>/summary.json`; returns it as a dict.

    Args:
        run_dir: str or path.
        scores: dict. The task's headline figures (e.g.
            `validation_entity_f1_strict`), first in the file.
        history: list of per-epoch records from `tfllm.training.train`;
            those with `epoch_seconds` ran in this process.
        encoded: `EncodedWindows` of the training data (its `num_tokens`
            are the sub-tokens of one epoch).
        start: float. `time.perf_counter()` when the command started.
        extra: dict or None. Added last (dataset, PEFT figures...).
        unit: str or None. What the training data counts when it is not
            sub-tokens (the recommender: `"interactions"`); the throughput
            keys are then `training_<unit>_per_epoch` and
            `mean_training_<unit>_per_second`.

    Returns:
        dict: `scores`, then `epochs_this_process`,
        `training_subtokens_per_epoch`, `mean_seconds_per_epoch`,
        `mean_training_tokens_per_second` (sub-tokens/s of this machine),
        `peak_memory_mib` (peak RSS, MiB), `wall_seconds`, `machine`,
        `date` and `extra`.
    """
    epochs = [r for r in history if "epoch_seconds" in r]
    summary = {
        **scores,
        "epochs_this_process": len(epochs),
        f"training_{unit or 'subtokens'}_per_epoch": encoded.num_tokens,
        "mean_seconds_per_epoch": mean_of(epochs, "epoch_seconds"),
        f"mean_training_{unit or 'tokens'}_per_second": mean_of(
            epochs, "train_tokens_per_second"),
        "peak_memory_mib": resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_seconds": time.perf_counter() - start,
        "machine": machine_description(),
        "date": datetime.date.today().isoformat(),
        **(extra or {}),
    }
    (pathlib.Path(run_dir) / "summary.json").write_text(
        json.dumps(summary, indent=2) + "\n")
    print("summary:", json.dumps(summary))
    # W&B / MLflow runs of --report-to get the final report, then close.
    from tfllm.training.tracking import log_final_report
    log_final_report(run_dir, summary)
    return summary
