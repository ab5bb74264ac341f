"""Distil a fine-tuned teacher run into a smaller student.

The teacher is a NER or text-classification run folder. The student keeps
the teacher's tokenizer and head and `--student-layers` of its transformer
layers (evenly spaced, last one kept), and is trained by the shared loop on
the teacher's softened logits mixed with the hard labels
(`tfllm.training.distillation`). The run folder gets the usual files plus
`distillation.json`: teacher and student scores, parameters and batch-1
latency on validation sentences. Python: `tfllm.runs.distillation.
run_distillation(DistillConfig(...), TrainingConfig(...))`.
"""

import json

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.runs.distillation import DistillConfig
from tfllm.training.trainer import TrainingConfig


def main(argv=None):
    from tfllm.runs.distillation import run_distillation

    config, training = parse_dataclasses(
        [DistillConfig, TrainingConfig], argv, description=__doc__)
    run_dir, summary = run_distillation(config, training)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"},
                     indent=2))
    return run_dir


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
