"""Active learning: simulate on a labelled dataset, or label by hand.

Usage: tfllm active simulate|select|add-labels [options]

Subcommands (each takes `--help` and `--config FILE`):

- `simulate`: pool-based active learning on a dataset's training split,
  its gold labels revealed only for the items a strategy picks; writes
  `learning_curve.json` and `learning_curve.png` (labels used against the
  validation metric) to `--run-dir`, and resumes there.
- `select`: write the next batch to label by hand to `--output`
  (JSON lines: `id`, `text`, empty `label`).
- `add-labels`: read a labelled batch back into `--run-dir`; then `select`
  again for the next round.
"""

from tfllm.cli.args import build_subcommand_parser
from tfllm.cli.args import run_subcommand
from tfllm.runs.active import ActiveLearningConfig
from tfllm.runs.active import AddLabelsArgs
from tfllm.runs.active import BatchFile
from tfllm.runs.active import add_labels
from tfllm.runs.active import select
from tfllm.runs.active import simulate

COMMANDS = {
    "simulate": ([ActiveLearningConfig], simulate),
    "select": ([ActiveLearningConfig, BatchFile], select),
    "add-labels": ([AddLabelsArgs], add_labels),
}

COMMAND_HELP = {
    "simulate": "simulated active learning with the gold labels as oracle",
    "select": "write the next batch to label by hand (JSONL)",
    "add-labels": "read a labelled batch back into the run folder",
}


def build_parser(prog=None):
    """The argument parser of `tfllm active`: one subcommand per entry of
    `COMMANDS`."""
    return build_subcommand_parser(COMMANDS, COMMAND_HELP, __doc__, prog)


def main(argv=None):
    """Runs one subcommand; returns what it returns."""
    return run_subcommand(build_parser(), COMMANDS, argv)


def cli():
    """Console-script entry point (user errors: one line, exit 2)."""
    from tfllm.cli.args import run_cli

    run_cli(main)


if __name__ == "__main__":
    cli()
