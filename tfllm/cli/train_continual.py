"""Fine-tune one encoder on a sequence of tasks, one after another, and
measure what it forgets: plain sequential fine-tuning, experience replay,
EWC, one LoRA adapter per task (with a task router), or all tasks at once
(multitask, the upper bound). Writes the accuracy matrix R, average
accuracy, backward transfer and forgetting as JSON, a heat map PNG and
TensorBoard logs.

The run is `tfllm.runs.continual.run` over `tfllm.continual`.
"""

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.continual.learner import ContinualConfig
from tfllm.runs.continual import ContinualData

PARSER_CLASSES = [ContinualData, ContinualConfig]


def main(argv=None):
    """Parses the flags, runs `tfllm.runs.continual.run`; returns the run
    folder (`pathlib.Path`)."""
    from tfllm.runs.continual import run

    data, config = parse_dataclasses(PARSER_CLASSES, argv,
                                     description=__doc__)
    return run(data, config)


def cli():
    """Console-script entry point."""
    run_cli(main)


if __name__ == "__main__":
    run_cli(main)
