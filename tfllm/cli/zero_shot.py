r"""Zero- and few-shot classification with a prompt (causal LM) or an encoder.

Prints `label<TAB>score` per text (the label's probability with an LM, its
cosine similarity with an encoder). When the texts carry gold labels (a
labelled `--input` file or `--dataset`), also writes a run folder with
`report.json` (accuracy, macro-F1, the confusion matrix), `report.txt`,
`predictions.jsonl` and `confusion_matrix.png`.

Usage: tfllm zero-shot --model smollm2 --labels negative,positive \
           "a great film" "dull and too long"
       tfllm zero-shot --model smollm2 \
           --labels negative,positive --template 'Review: {text}\nSentiment:' \
           --calibrate --input reviews.txt   # a text per line; '-': stdin
       tfllm zero-shot --model smollm2 --dataset sst2 \
           --split test --template 'Review: {text}\nSentiment:' --shots 8
       tfllm zero-shot --model minilm --dataset banking77
(`python scripts/zero_shot.py` takes the same flags.)
"""


import sys
import time

from tfllm.cli.args import build_parser as _build_parser
from tfllm.cli.args import run_cli
from tfllm.data.splits import seeded_subset
from tfllm.runs.zero_shot import LM_TEMPLATE  # noqa: F401  (re-exported)
from tfllm.runs.zero_shot import ZeroShotConfig
from tfllm.runs.zero_shot import gold_ids  # noqa: F401  (re-exported)
from tfllm.runs.zero_shot import build_classifier
from tfllm.runs.zero_shot import read_inputs
from tfllm.runs.zero_shot import run_folder
from tfllm.runs.zero_shot import score_texts
from tfllm.runs.zero_shot import write_report

__all__ = ["ZeroShotConfig", "build_parser", "main", "cli"]

PARSER_CLASSES = [ZeroShotConfig]


def build_parser(prog=None):
    """The argument parser of `tfllm zero-shot` (flags: `ZeroShotConfig`;
    texts positional)."""
    return _build_parser(PARSER_CLASSES, __doc__, prog)


def main(argv=None):
    """Classifies texts; prints `label<TAB>score` per text.

    Returns:
        dict: the report (labelled texts), else None.
    """
    start = time.perf_counter()
    parser = build_parser()
    [config] = parser.instances(parser.parse(argv))
    examples, train = read_inputs(config)
    examples = seeded_subset(examples, config.max_eval_examples, config.seed)
    if not examples:
        raise SystemExit("no texts to classify")
    try:
        classifier = build_classifier(config, train)
    except ValueError as e:  # templates, labels, shots, model kind
        raise SystemExit(f"error: {e}") from None
    texts = [e if isinstance(e, str) else e.text for e in examples]
    began = time.perf_counter()
    predicted, scores, uncalibrated = score_texts(classifier, texts)
    seconds = time.perf_counter() - began
    columns = {label: i for i, label in enumerate(classifier.labels)}
    for label, row in zip(predicted, scores):
        print(f"{label}\t{row[columns[label]]:.4f}")
    if isinstance(examples[0], str):
        return None
    run_dir = run_folder(config)
    report = write_report(run_dir, config, classifier, examples, scores,
                          seconds, uncalibrated)
    if uncalibrated is not None:
        print(f"before calibration: accuracy "
              f"{report['uncalibrated_accuracy']:.4f}", file=sys.stderr)
    print(f"accuracy {report['accuracy']:.4f}, macro-F1 "
          f"{report['macro_f1']:.4f} on {len(examples)} texts "
          f"({seconds:.1f} s scoring, {time.perf_counter() - start:.1f} s "
          f"in all); run folder: {run_dir}", file=sys.stderr)
    return report


def cli():
    """Console-script entry point (exit status 0 on success)."""
    run_cli(main)


if __name__ == "__main__":
    cli()
