"""Benchmark of the main job: train, export, check the export's F1.

Runs `train_ner` (default flags unless given), then scores the exported
SavedModel on the whole validation split in a separate process that does not
import tfllm (`scripts/check_ner_export.py`), and prints a Markdown row for
BENCHMARKS.md: validation entity F1 (seqeval strict IOB2) of the in-memory
and the exported model, training tokens/s, seconds per epoch, peak memory.

Usage: python scripts/bench_ner.py [train_ner flags...]
"""

import json
import pathlib
import subprocess
import sys

from tfllm.cli.train_ner import main as train_ner_main


def main():
    run_dir = train_ner_main(sys.argv[1:])
    summary = json.loads((run_dir / "summary.json").read_text())
    export_base = pathlib.Path(
        json.loads((run_dir / "config.json").read_text())["export_dir"])
    version = max(int(p.name) for p in export_base.iterdir()
                  if p.name.isdigit())
    check = subprocess.run(
        [sys.executable, str(pathlib.Path(__file__).parent /
                             "check_ner_export.py"),
         str(export_base / str(version)),
         "--predictions", str(run_dir / "validation_predictions.json")],
        capture_output=True, text=True, check=True)
    print(check.stdout)
    parity = json.loads(check.stdout.strip().splitlines()[-1])
    print("| validation F1 (in-memory) | validation F1 (SavedModel) | "
          "training tokens/s | s/epoch | peak memory | wall |")
    print("|---|---|---|---|---|---|")
    print(f"| {summary['validation_entity_f1_strict']:.4f} "
          f"| {parity['served_f1']:.4f} "
          f"| {summary['mean_training_tokens_per_second']:.0f} "
          f"| {summary['mean_seconds_per_epoch']:.0f} "
          f"| {summary['peak_memory_mib']:.0f} MiB "
          f"| {summary['wall_seconds'] / 60:.1f} min |")


if __name__ == "__main__":
    main()
