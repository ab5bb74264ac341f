"""Compares continual fine-tuning methods on one task sequence.

Runs `tfllm train continual` once per method, each in its own process and
run folder `<out>/<method>` (a crash loses only the method in progress; a
method whose `continual.json` exists is skipped on a rerun), then writes
`<out>/summary.json` and prints a Markdown table: average accuracy, BWT,
forgetting per method against the multitask upper bound.

Usage:
    python scripts/bench_continual.py \
        --tasks sst2,fpb-allagree,banking77,chnsenticorp \
        --methods multitask,sequential,replay,ewc,lora \
        --backbone multilingual-e5-small --out runs/continual-bench \
        -- --max-train-examples 800 --epochs 3 --precision mixed_bfloat16

Arguments after `--` go to every run; `--lora-learning-rate` replaces
`--learning-rate` for the `lora` method.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def table(results):
    """Markdown rows: method, average accuracy, BWT, forgetting, seconds."""
    rows = ["| method | average accuracy | BWT | forgetting | "
            "task id predicted (lora) | training s |",
            "|---|---:|---:|---:|---:|---:|"]
    for method, summary in results.items():
        routed = summary.get("routed")
        rows.append(
            f"| {method} | {summary['average_accuracy']:.4f} | "
            + ("–" if method == "multitask"
               else f"{summary['backward_transfer']:+.4f}") + " | "
            + ("–" if method == "multitask"
               else f"{summary['forgetting']:.4f}") + " | "
            + (f"{routed['average_accuracy']:.4f} (routing "
               f"{routed['routing_accuracy'][-1]:.3f})" if routed else "–")
            + f" | {sum(summary['seconds_per_task']):.0f} |")
    return "\n".join(rows)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    given = list(argv)
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--methods",
                        default="multitask,sequential,replay,ewc,lora")
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--out", default="runs/continual-bench")
    parser.add_argument("--lora-learning-rate", type=float, default=None)
    parser.add_argument(
        "--record", default=None, metavar="METHOD",
        help="write METHOD's average accuracy and BWT and the multitask "
             "average accuracy into benchmarks/results.json "
             "(continual_avg_accuracy, continual_bwt, "
             "continual_multitask_avg_accuracy)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    results = {}
    for method in args.methods.split(","):
        report = out / method / "continual.json"
        if not report.exists():
            command = [sys.executable, "-m", "tfllm", "train", "continual",
                       "--tasks", args.tasks, "--method", method,
                       "--backbone", args.backbone,
                       "--output-dir", str(out), "--run-name", method]
            command += extra
            if method == "lora" and args.lora_learning_rate:
                command += ["--learning-rate", str(args.lora_learning_rate)]
            started = time.time()
            print(" ".join(command), flush=True)
            subprocess.run(command, check=True, cwd=ROOT)
            print(f"{method}: {time.time() - started:.0f} s wall",
                  flush=True)
        results[method] = json.loads(report.read_text())
    (out / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    if args.record:
        record(results, args.record, args.tasks, given)
    return results


def record(results, method, tasks, argv):
    """Writes the three results.json keys from this comparison."""
    from tfllm.utils.results import record_result

    command = "python scripts/bench_continual.py " + " ".join(argv)
    sequence = tasks.replace(",", " -> ")
    chosen = results[method]
    record_result("continual_avg_accuracy", chosen["average_accuracy"],
                  f"average validation accuracy over the 4 tasks after the "
                  f"last one ({sequence}), method {method}", command)
    record_result("continual_bwt", chosen["backward_transfer"],
                  f"backward transfer (Lopez-Paz & Ranzato 2017), accuracy "
                  f"as a fraction, method {method}, {sequence}", command)
    if "multitask" in results:
        record_result("continual_multitask_avg_accuracy",
                      results["multitask"]["average_accuracy"],
                      f"average validation accuracy of one multitask run on "
                      f"all tasks ({sequence}): the upper bound", command)


if __name__ == "__main__":
    main()
