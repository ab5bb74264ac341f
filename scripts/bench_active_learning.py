"""Compares active learning strategies on one dataset and seed.

Runs `tfllm.runs.active.simulate` once per strategy into `<out>/<strategy>`
(each writes its curve after every round and resumes there, so a crash
loses at most the round in progress), then writes `<out>/summary.json`
and `<out>/learning_curves.png`.

Usage:
    python scripts/bench_active_learning.py --dataset banking77 \
        --strategies random,least_confidence,margin,entropy,bald,kmeans_margin \
        --seed-size 200 --batch-size 200 --rounds 8 --epochs 5 \
        --max-length 64 --backbone minilm --out runs/al-bench

summary.json, per strategy: `final_metric`, `labels_to_reach_random`
(labels needed to reach random sampling's metric at its full budget) and
`fraction_of_random_budget` (that over random's full budget; < 1 means
fewer labels than random for the same quality).
"""

import argparse
import dataclasses
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tfllm.active.curves import labels_to_reach  # noqa: E402
from tfllm.active.curves import plot_learning_curves  # noqa: E402
from tfllm.runs.active import ActiveLearningConfig  # noqa: E402
from tfllm.runs.active import simulate  # noqa: E402


def summarize(curves):
    """Per-strategy summary against random's full-budget metric."""
    summary = {}
    baseline = curves.get("random")
    target = baseline[-1]["metric"] if baseline else None
    budget = baseline[-1]["labels"] if baseline else None
    for name, curve in curves.items():
        entry = {"final_metric": curve[-1]["metric"],
                 "final_labels": curve[-1]["labels"],
                 "seconds": round(sum(p["seconds"] for p in curve), 1)}
        if target is not None:
            needed = labels_to_reach(curve, target)
            entry["labels_to_reach_random"] = needed
            entry["fraction_of_random_budget"] = (
                None if needed is None else round(needed / budget, 3))
        summary[name] = entry
    return {"random_full_budget": {"labels": budget, "metric": target},
            "strategies": summary}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategies", default="random,margin")
    parser.add_argument("--out", default="runs/al-bench")
    parser.add_argument(
        "--record-key", default=None,
        help="write the best strategy's fraction of random's full budget "
             "into benchmarks/results.json under this key")
    for field in dataclasses.fields(ActiveLearningConfig):
        if field.name in ("strategy", "run_dir"):
            continue
        flag = "--" + field.name.replace("_", "-")
        if field.type is bool or field.type == "bool":
            parser.add_argument(flag, action="store_true")
        elif field.default is None:
            parser.add_argument(flag, type=int if "limit" in field.name
                                or "subsample" in field.name else str)
        else:
            parser.add_argument(flag, type=type(field.default),
                                default=field.default)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    curves = {}
    for strategy in args.strategies.split(","):
        settings = {f.name: getattr(args, f.name)
                    for f in dataclasses.fields(ActiveLearningConfig)
                    if hasattr(args, f.name)}
        config = ActiveLearningConfig(**settings, strategy=strategy,
                                      run_dir=str(out / strategy))
        curves[strategy] = simulate(config)
        summary = summarize(curves)  # after each strategy: nothing lost
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        plot_learning_curves(curves, out / "learning_curves.png",
                             title=args.dataset)
    print(json.dumps(summary, indent=2))
    if args.record_key:
        record(args.record_key, summary, argv)
    return summary


def record(key, summary, argv):
    """Writes the smallest label fraction any strategy other than random
    needed (`fraction_of_random_budget`) under `key`; nothing when none
    reached random's full-budget metric."""
    from tfllm.utils.results import record_result

    reached = {name: entry["fraction_of_random_budget"]
               for name, entry in summary["strategies"].items()
               if name != "random"
               and entry.get("fraction_of_random_budget") is not None}
    if not reached:
        print(f"{key}: no strategy reached random's full-budget metric; "
              f"nothing recorded")
        return
    best = min(reached, key=reached.get)
    target = summary["random_full_budget"]
    command = "python scripts/bench_active_learning.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    record_result(key, reached[best],
                  f"fraction of random sampling's full budget "
                  f"({target['labels']} labels, accuracy "
                  f"{target['metric']:.4f}) that {best} needed to reach "
                  f"the same validation accuracy", command)
    print(f"{key} = {reached[best]} ({best})")


if __name__ == "__main__":
    main()
