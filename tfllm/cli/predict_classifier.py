"""Print the label and probability of raw texts with a trained classifier.

Texts are the positional arguments, or the lines of `--input FILE` (`-` for
standard input; with neither, standard input is read). The model is a run
folder (`runs/<name>`), a `.keras` file, a SavedModel version folder or an
export folder of versions; by default the newest classifier export under
`saved_models/`.
"""

import argparse
import json
import pathlib
import sys

from tfllm.cli.args import run_cli


def read_texts(args):
    """The texts to classify: positional texts, `--input` lines or stdin.

    Raises:
        FileNotFoundError: `--input` names a missing file (the message
            names the flag and the file).
    """
    if args.text:
        return args.text
    if args.input not in (None, "-"):
        path = pathlib.Path(args.input)
        if not path.is_file():
            raise FileNotFoundError(f"--input {args.input}: no such file")
        lines = path.read_text(encoding="utf-8").splitlines()
    else:
        lines = sys.stdin.read().splitlines()
    return [line for line in lines if line.strip()]


def build_parser(prog=None):
    """The argument parser of this command (`prog`: its usage name)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("text", nargs="*",
                        help="texts (default: --input, else stdin)")
    parser.add_argument("--input", metavar="FILE",
                        help="one text per line; '-' reads standard input")
    parser.add_argument("--text-pair", action="append",
                        help="second text of a pair (once per text)")
    parser.add_argument("--model", help="run folder, .keras or SavedModel")
    parser.add_argument("--json", action="store_true",
                        help="print JSON with every probability")
    parser.add_argument("--output", metavar="FILE",
                        help="also write the results as JSON Lines")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's own log lines")
    return parser


def main(argv=None):
    """Parses the flags, classifies the texts, prints one line per text
    (`label<TAB>probability`, or JSON with `--json`); returns the results
    (`tfllm.inference.classifier.ClassifierPredictor`'s dicts)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    texts = read_texts(args)
    from tfllm.inference.classifier import ClassifierPredictor
    from tfllm.inference.classifier import newest_export
    from tfllm.inference.classifier import to_json

    model = args.model or newest_export()
    if model is None:
        raise SystemExit(
            "no exported classifier under saved_models/; train one with "
            "`tfllm train classifier` or pass --model")
    if not pathlib.Path(model).exists():
        raise FileNotFoundError(f"--model {model}: no such file or folder")
    results = ClassifierPredictor(model)(texts, args.text_pair)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            for text, result in zip(texts, results):
                f.write(json.dumps({"text": text, **result},
                                   ensure_ascii=False) + "\n")
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
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
