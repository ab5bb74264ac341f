"""Score a trained NER model on a file or a dataset split.

Prints the entity-level (seqeval strict IOB2) and token-level reports that
`tfllm train ner` writes for its validation split; `--output FILE` writes
the whole report as JSON.
"""

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.runs.ner import NerEvaluationConfig
from tfllm.runs.ner import evaluate_model


# The flags of this command (the `tfllm` dispatcher and the CLI reference
# build its parser from these).
PARSER_CLASSES = [NerEvaluationConfig]


def main(argv=None):
    """Parses `NerEvaluationConfig` flags, scores, prints; returns the
    report dict."""
    from tfllm.evaluation.ner_metrics import format_report

    (config,) = parse_dataclasses(
        PARSER_CLASSES, argv,
                                  description=__doc__)
    if config.model is None:
        raise SystemExit("give --model RUN_FOLDER (or a .keras file)")
    report, sentences = evaluate_model(config)
    name = config.file or f"{config.dataset} {config.split}"
    print(f"{len(sentences)} sentences of {name}")
    print(format_report(report["entity_strict"],
                        "entity-level, seqeval strict IOB2"))
    print(format_report(report["token"], "token-level (per tag)"))
    print(f"entity F1 {report['f1']:.4f}")
    return report


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
