"""Entity F1 of an ensemble of finished NER runs, beside each member's.

Loads the run folders with `tfllm.models.ensemble.load_ensemble` (the mean
of the members' emission scores and CRF transitions, then Viterbi; the
mean of probabilities for softmax heads) and scores it on the validation
and test splits of a known character-level dataset, seqeval strict IOB2.

Usage:
    python scripts/bench_ensemble.py --dataset weibo_ner \
        --runs runs/a,runs/b,runs/c [--output ensemble.json]
"""

import argparse
import json

from tfllm.data.ner_datasets import load_ner_dataset
from tfllm.models.ensemble import load_ensemble
from tfllm.models.task import load_task_model
from tfllm.models.token_classifier import TokenClassifier
from tfllm.utils.logging import quiet_native_logs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="weibo_ner")
    parser.add_argument("--runs", required=True,
                        help="comma-separated run folders (model.keras)")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    quiet_native_logs()
    runs = args.runs.split(",")
    splits = load_ner_dataset(args.dataset)
    data = {name: [(s.words, s.tags) for s in splits[name]]
            for name in ("validation", "test") if name in splits}
    result = {"dataset": args.dataset, "runs": runs, "members": {}}
    for run in runs:
        model = load_task_model(run, TokenClassifier)
        result["members"][run] = {
            name: float(model.evaluate(pairs)["f1"])
            for name, pairs in data.items()}
        print(run, result["members"][run], flush=True)
    ensemble = load_ensemble(runs)
    result["ensemble"] = {name: float(ensemble.evaluate(pairs)["f1"])
                          for name, pairs in data.items()}
    print("ensemble", result["ensemble"])
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
