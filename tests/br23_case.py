"""Outside case BR-23 (../shared/cases/OUTSIDE_CASES.md): its `run.yaml`
and the settings it is resolved against, shared by tests/test_config.py
and tests/cli/test_args.py."""

import dataclasses

RUN_YAML = """\
task: ner
epochs: 5
learning_rate: 1e-3
weight_decay: 1.0e-2
warmup_ratio: 5e-2
lowercase: no
mixed_precision: on
shuffle: off
language: no
"""


@dataclasses.dataclass
class CaseConfig:
    """BR-23's settings with their code defaults."""

    task: str = "classification"
    epochs: int = 3
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    lowercase: bool = True
    mixed_precision: bool = False
    shuffle: bool = True
    language: str = "en"
    seed: int = 42
