"""Score a trained text classifier on labelled texts.

The model is a run folder or a `.keras` file; the texts a labelled file
(`--test-file`, CSV/TSV/JSONL, or in `--dataset`'s own layout) or a split
of a known dataset (`--dataset NAME --split validation|test`). Prints
accuracy, macro/weighted F1 and the classification report; `--output FILE`
writes the report as JSON (the `<split>_report.json` of a training run).
"""

import dataclasses
import json
import pathlib
from typing import Optional

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.config import help_field as _help


@dataclasses.dataclass
class EvaluateClassifierConfig:
    """Flags of `tfllm evaluate classifier`."""

    model: Optional[str] = _help("run folder or .keras file (required)")
    dataset: Optional[str] = _help("a known dataset (see train_classifier)")
    data_dir: Optional[str] = _help("the dataset's folder")
    split: str = _help("the dataset's split to score: validation or test "
                       "(validation is carved as training carved it)",
                       "validation")
    test_file: Optional[str] = _help(
        "labelled file to score (with --dataset: in its layout)")
    format: Optional[str] = _help("csv, tsv, jsonl, ...; None: suffix")
    text_column: Optional[str] = _help("text column; None: 'text'")
    label_column: Optional[str] = _help("label column; None: 'label'")
    max_eval_examples: Optional[int] = _help(
        "score a seeded random subset of N examples")
    seed: int = _help("seeds the carved validation split and the subset",
                      42)
    output: Optional[str] = _help("write the report as JSON here")


PARSER_CLASSES = [EvaluateClassifierConfig]


def main(argv=None):
    """Parses the flags, scores the model (`TextClassifier.evaluate`),
    prints the scores; returns the report dict."""
    (config,) = parse_dataclasses(PARSER_CLASSES, argv,
                                  description=__doc__)
    if config.model is None:
        raise SystemExit("give --model RUN_FOLDER_OR_KERAS_FILE")
    if config.test_file is None and config.dataset is None:
        raise SystemExit("give --test-file FILE or --dataset NAME")
    if config.test_file and not pathlib.Path(config.test_file).is_file():
        raise FileNotFoundError(f"--test-file {config.test_file}: no such "
                                "file")
    if not pathlib.Path(config.model).exists():
        raise FileNotFoundError(f"--model {config.model}: no such file or "
                                "folder")
    from tfllm.data.splits import seeded_subset
    from tfllm.models.text_classifier import TextClassifier
    from tfllm.runs.classification import SCALARS
    from tfllm.runs.classification import load_classification_dataset

    model = TextClassifier.load(config.model)
    if config.test_file:
        options = {k: getattr(config, k) for k in
                   ("format", "text_column", "label_column")
                   if getattr(config, k)}
        dataset = config.dataset if not options else None
        from tfllm.models.text_classifier_api import as_examples

        examples = as_examples(model, config.test_file, None, "--test-file",
                               dataset, **options)
    else:
        data = load_classification_dataset(config.dataset, config.data_dir,
                                           seed=config.seed)
        split = getattr(data, config.split, None)
        if split is None:
            raise SystemExit(f"{config.dataset} has no {config.split!r} "
                             "split")
        examples = list(zip(*split))
    examples = seeded_subset(examples, config.max_eval_examples, config.seed)
    report = model.evaluate(examples)
    scores = ", ".join(f"{k} {report[k]:.4f}" for k in SCALARS
                       if k in report)
    print(f"{scores} ({report['num_examples']} examples)")
    print(report["report_text"])
    if config.output:
        pathlib.Path(config.output).write_text(
            json.dumps(report, indent=2) + "\n")
    return report


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
