"""Score a trained NER model or classifier on clean and noisy data.

The model is a run folder (or a `.keras` file with `--task`); the data the
run's validation split as training built it, or `--file` in the run's
dataset format. Each `--noise` kind (typo, homophone, traditional,
simplified; `tfllm.evaluation.robustness`) changes each eligible unit with
probability `--rate`, seeded by `--seed`; `adversarial` scores under a
one-step FGM attack on the word embeddings of norm
`--adversarial-epsilon` per chunk of `--adversarial-batch-size` examples
(`tfllm.evaluation.adversarial_robustness`). Prints a table of the scores
(entity F1, or accuracy and macro-F1) and their drops, and writes it as
JSON to `--output` (default: `robustness.json` in the run folder).
"""

import dataclasses
import json
import pathlib
from typing import Optional

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.config import help_field as _help


@dataclasses.dataclass
class RobustnessConfig:
    """Flags of `tfllm evaluate robustness`."""

    model: Optional[str] = _help(
        "run folder (or .keras file with --task) to score (required)",
        aliases=["--run"])
    file: Optional[str] = _help(
        "labelled file to score instead of the run's validation split",
        aliases=["--data"])
    dataset: Optional[str] = _help(
        "format of --file (a dataset name); default the run's dataset, "
        "else conll2003 (NER) or the file's suffix (classification)")
    task: Optional[str] = _help(
        "ner or classifier; default from the run folder's config.json")
    noise: str = _help("comma-separated noise kinds",
                       "typo,homophone,traditional")
    rate: float = _help("probability that each eligible unit is changed",
                        0.1)
    seed: int = _help("seeds the noise", 0)
    adversarial_epsilon: float = _help(
        "--noise adversarial: L2 norm of the FGM perturbation of the word "
        "embeddings, per chunk (as --adversarial-epsilon in training)", 1.0)
    adversarial_batch_size: int = _help(
        "--noise adversarial: examples per chunk (one gradient, one "
        "perturbation)", 32)
    max_eval_examples: Optional[int] = _help(
        "score only the first N examples")
    output: Optional[str] = _help(
        "write the result as JSON here (default RUN/robustness.json)")


PARSER_CLASSES = [RobustnessConfig]


def _run_config(path):
    """The run's saved settings, or None for a `.keras` file."""
    from tfllm.runs.run_data import run_config

    try:
        return run_config(path)
    except FileNotFoundError:
        return None


def load_model_and_data(config):
    """The model and the examples `config` names.

    Args:
        config: `RobustnessConfig`.

    Returns:
        `(model, examples)`: a `TokenClassifier` and `TaggedSentence`s or
        a `TextClassifier` and `TextExample`s.

    Raises:
        FileNotFoundError: no model or file at the paths given.
        ValueError: no `--task` for a model without a run `config.json`,
            or no `--file` for it.
    """
    from tfllm.models.task import load_task_model

    path = pathlib.Path(config.model)
    if not path.exists():
        raise FileNotFoundError(f"--model {path}: no such file or folder")
    if config.file and not pathlib.Path(config.file).is_file():
        raise FileNotFoundError(f"--file {config.file}: no such file")
    run = _run_config(path)
    task = config.task
    if task is None:
        if run is None:
            raise ValueError(f"--model {path}: no run config.json; give "
                             "--task ner or --task classifier")
        from tfllm.runs.ner import is_ner_config

        task = "ner" if is_ner_config(run) else "classifier"
    if task not in ("ner", "classifier"):
        raise ValueError(f"--task {task!r}: expected ner or classifier")
    if config.file is None:
        if run is None:
            raise ValueError("give --file: only a run folder has a "
                             "validation split")
        from tfllm.runs.run_data import load_run_data

        model, data = load_run_data(path)
        examples = data["validation"]
    elif task == "ner":
        from tfllm.data.ner_datasets import read_ner_file
        from tfllm.models.token_classifier import TokenClassifier

        model = load_task_model(path, TokenClassifier)
        dataset = config.dataset or (run or {}).get("dataset") or \
            "conll2003"
        examples = read_ner_file(dataset, config.file)
    else:
        from tfllm.models.text_classifier import TextClassifier
        from tfllm.models.text_classifier_api import as_examples

        model = load_task_model(path, TextClassifier)
        dataset = config.dataset or (run or {}).get("dataset")
        examples = as_examples(model, config.file, None, "--file", dataset)
    if config.max_eval_examples:
        examples = examples[:config.max_eval_examples]
    return model, examples


def main(argv=None):
    """Parses the flags, runs `robustness_check`, prints the table and
    writes the JSON; returns the result dict."""
    from tfllm.evaluation.robustness import format_table
    from tfllm.evaluation.robustness import robustness_check

    (config,) = parse_dataclasses(PARSER_CLASSES, argv, description=__doc__)
    if config.model is None:
        raise SystemExit("give --model RUN_FOLDER")
    noises = [n.strip() for n in config.noise.split(",") if n.strip()]
    model, examples = load_model_and_data(config)
    options = {}
    if "adversarial" in noises:
        options["adversarial"] = {
            "epsilon": config.adversarial_epsilon,
            "batch_size": config.adversarial_batch_size}
    result = robustness_check(model, examples, noises, config.rate,
                              config.seed, options)
    print(f"{result['num_examples']} examples, rate {config.rate}, "
          f"seed {config.seed}")
    print(format_table(result))
    output = config.output or (pathlib.Path(config.model) / "robustness.json"
                               if pathlib.Path(config.model).is_dir()
                               else None)
    if output:
        pathlib.Path(output).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(output).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {output}")
    return result


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
