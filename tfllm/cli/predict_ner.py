"""Print the named entities of raw text with a trained NER model.

The model is a run folder (`runs/<name>`), a `.keras` file, a SavedModel
version folder (`saved_models/ner/3`) or an export folder (its newest
version); by default the newest version under `saved_models/ner`.
"""

import argparse
import pathlib
import sys

from tfllm.cli.args import run_cli
from tfllm.export.versioned import next_version
from tfllm.inference.ner import format_entities
from tfllm.inference.ner import predict_ner
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


def read_texts(args):
    """The texts to tag: positional TEXTs, else `--input` FILE (one per
    line, `-` = stdin), else stdin."""
    if args.text:
        return args.text
    if args.input and args.input != "-":
        path = pathlib.Path(args.input)
        if not path.is_file():
            raise FileNotFoundError(f"--input {path}: no such file")
        return [line for line in path.read_text(encoding="utf-8")
                .splitlines() if line.strip()]
    return [line.rstrip("\n") for line in sys.stdin]


def build_parser(prog=None):
    """The argument parser of this command (`prog`: its usage name)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("text", nargs="*", help="sentences (default: stdin)")
    parser.add_argument("--model", help="run folder, .keras, SavedModel "
                        "version folder or export folder (newest version)")
    parser.add_argument("--input", help="file of texts, one per line "
                        "('-': stdin)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's own log lines")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    texts = read_texts(args)
    results = predict_ner(texts, args.model or default_model())
    if args.json:
        print(to_json(results))
    else:
        for result in results:
            print(format_entities(result) or "(no entities)")
    return results


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
