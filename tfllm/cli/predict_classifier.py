"""Print the label and probability of raw texts with a trained classifier.

The model is a run folder (`runs/<name>`), a `.keras` file, a SavedModel
version folder or an export folder of versions; by default the newest
classifier export under `saved_models/`.
"""

from tfllm.cli.args import run_cli
import argparse
import sys

from tfllm.inference.classifier import ClassifierPredictor
from tfllm.inference.classifier import newest_export
from tfllm.inference.classifier import to_json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("text", nargs="*", help="texts (default: stdin)")
    parser.add_argument("--text-pair", action="append",
                        help="second text of a pair (once per text)")
    parser.add_argument("--model", help="run folder, .keras or SavedModel")
    parser.add_argument("--json", action="store_true",
                        help="print JSON with every probability")
    args = parser.parse_args(argv)
    texts = args.text or [line.rstrip("\n") for line in sys.stdin]
    model = args.model or newest_export()
    if model is None:
        raise SystemExit(
            "no exported classifier under saved_models/; train one with "
            "`python scripts/train_classifier.py` or pass --model")
    results = ClassifierPredictor(model)(texts, args.text_pair)
    if args.json:
        print(to_json(results))
    else:
        for result in results:
            labels = result.get("labels")
            extra = f"\t{','.join(labels)}" if labels is not None else ""
            print(f"{result['label']}\t{result['probability']:.4f}{extra}")
    return results


def cli():
    """Console-script entry point."""
    return run_cli(main)


if __name__ == "__main__":
    run_cli(main)
