"""Fine-tune an encoder for text classification, report and export it.

Reads a labelled CSV/TSV/JSONL file (or a known dataset: Banking77,
Financial PhraseBank, SST-2, and CLUENER2020's entity types per sentence as
a multi-label Chinese topic task), trains with the shared loop (same run
folder, TensorBoard and best epoch as NER), writes accuracy, macro/weighted
F1, the classification report and a confusion matrix, and exports a
raw-text SavedModel to `saved_models/<name>/<version>/`. `--folds K` runs
stratified k-fold cross-validation instead and reports mean ± std.

The run is `tfllm.runs.classification.run`, built on
`tfllm.TextClassifier.from_pretrained`, `fit`, `evaluate` and `export`.
"""

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.peft.options import PeftArgs
from tfllm.runs.classification import ClassifierConfig
from tfllm.training.trainer import TrainingConfig

# Old import paths (tfllm.cli.train_classifier.<name>) of the run's parts.
from tfllm.runs.classification import carve_validation  # noqa: F401
from tfllm.runs.classification import load_splits  # noqa: F401
from tfllm.runs.classification import resolve_task  # noqa: F401


# The flags of this command (the `tfllm` dispatcher and the CLI reference
# build its parser from these).
PARSER_CLASSES = [ClassifierConfig, TrainingConfig, PeftArgs]


def main(argv=None):
    """Parses the flags, runs `tfllm.runs.classification.run`; returns the
    run folder (`pathlib.Path`)."""
    from tfllm.runs.classification import run

    config, training, peft_args = parse_dataclasses(
        PARSER_CLASSES, argv,
        description=__doc__)
    return run(config, training, peft_args)


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
