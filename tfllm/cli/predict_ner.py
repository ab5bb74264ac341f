"""Print the named entities of raw text with a trained NER model.

The model is a run folder (`runs/<name>`), a `.keras` file or a SavedModel
version folder; by default the newest version under `saved_models/ner`.
"""

from tfllm.cli.args import run_cli
import argparse
import pathlib
import sys

from tfllm.export.versioned import next_version
from tfllm.inference.ner import NerPredictor
from tfllm.inference.ner import format_entities
from tfllm.inference.ner import to_json


def default_model(export_base="saved_models/ner"):
    """The newest SavedModel version folder under `export_base`."""
    version = next_version(export_base) - 1
    if version < 1:
        raise SystemExit(
            f"no exported model under {export_base}; train one with "
            "`python scripts/train_ner.py` or pass --model"
        )
    return pathlib.Path(export_base) / str(version)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("text", nargs="*", help="sentences (default: stdin)")
    parser.add_argument("--model", help="run folder, .keras or SavedModel")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    texts = args.text or [line.rstrip("\n") for line in sys.stdin]
    predictor = NerPredictor(args.model or default_model())
    results = predictor(texts)
    if args.json:
        print(to_json(results))
    else:
        for result in results:
            print(format_entities(result) or "(no entities)")
    return results


def cli():
    """Console-script entry point."""
    return run_cli(main)


if __name__ == "__main__":
    run_cli(main)
