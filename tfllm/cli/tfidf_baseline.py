"""A character n-gram TF-IDF + logistic-regression baseline on known datasets.

Fits on each dataset's training split (the one `tfllm train classifier
--dataset NAME` trains on), picks C on validation by macro-F1 and prints
the test accuracy and macro-F1; writes them, with the split sizes, to
`--output` (JSON).

Usage: tfllm baseline tfidf --datasets chnsenticorp,online-shopping-topic
       [--c-values 16,64]
"""

from tfllm.cli.args import build_parser as _build_parser
from tfllm.cli.args import run_cli
from tfllm.runs.tfidf_baseline import TfidfBaselineConfig
from tfllm.runs.tfidf_baseline import run

PARSER_CLASSES = [TfidfBaselineConfig]


def build_parser(prog=None):
    """The argument parser of `scripts/tfidf_baseline.py`."""
    return _build_parser(PARSER_CLASSES, __doc__, prog)


def main(argv=None):
    """Runs the baseline; returns `dataset -> result` (see
    `tfllm.runs.tfidf_baseline.run`)."""
    parser = build_parser()
    [config] = parser.instances(parser.parse_args(argv))
    return run(config)


def cli():
    """Console-script entry point (exit status 0 on success)."""
    run_cli(main)


if __name__ == "__main__":
    cli()
