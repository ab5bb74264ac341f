"""A finished run folder's model and data splits, rebuilt as training built
them (for `tfllm export` verification and `tfllm train distill`)."""

import json
import pathlib


def load_run_data(run_dir):
    """A run's model and its data splits, rebuilt as training built them.

    Returns:
        `(model, data)`: the task model and `{split: records}`, with
        `TaggedSentence`s (NER) or `TextExample`s (classification) for
        `train` and `validation` (carved from train with the run's seed
        when the dataset has no validation split).

    A distillation run (`scripts/distill.py`, its config names a
    `teacher_run`) gives its own student model with its teacher's splits.

    Raises:
        FileNotFoundError: no `config.json` or `model.keras` in `run_dir`,
            or a distillation run's teacher folder is gone.
    """
    from tfllm.models.task import load_task_model
    from tfllm.runs.ner import is_ner_config
    from tfllm.runs.ner import load_splits as load_ner_splits
    from tfllm.runs.ner import ner_config_from_dict

    run_dir = pathlib.Path(run_dir)
    config = run_config(run_dir)
    data_dir = run_dir
    while "teacher_run" in config:  # a student: its teacher's data
        data_dir = pathlib.Path(config["teacher_run"])
        config = run_config(data_dir)
    if is_ner_config(config):  # a NER run (its config is a NerConfig)
        from tfllm.models.token_classifier import TokenClassifier

        model = load_task_model(run_dir, TokenClassifier)
        return model, load_ner_splits(ner_config_from_dict(config))
    try:
        from tfllm.runs.classification import ClassifierConfig
        from tfllm.runs.classification import carve_validation
        from tfllm.runs.classification import load_splits
    except ImportError:  # before the classifier run moved to tfllm.runs
        from tfllm.cli.train_classifier import ClassifierConfig
        from tfllm.cli.train_classifier import carve_validation
        from tfllm.cli.train_classifier import load_splits
    from tfllm.data.bad_rows import BadRows
    from tfllm.models.text_classifier import TextClassifier

    model = load_task_model(run_dir, TextClassifier)
    classifier_config = ClassifierConfig(**config)
    data = load_splits(classifier_config,
                       BadRows(classifier_config.skip_bad_rows))
    if "validation" not in data:
        training = json.loads(
            (data_dir / "training_config.json").read_text())
        carve_validation(data, classifier_config, training["seed"])
    return model, data


def run_config(run_dir):
    """The task settings a run saved (`config.json`, a dict).

    Raises:
        FileNotFoundError: `run_dir` has no `config.json`.
    """
    config_file = pathlib.Path(run_dir) / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file}: not a run folder")
    return json.loads(config_file.read_text())


def load_run(run_dir):
    """The model and its splits: `(model, train_items, items, gold)`.

    `items` and `gold` are the validation word lists and tags (NER) or
    texts and label names (classification).

    Raises:
        FileNotFoundError: see `load_run_data`.
        ValueError: a pair or multi-label classifier (not verified here).
    """
    model, data = load_run_data(run_dir)
    if hasattr(model, "predict_word_logits"):
        return (model, [s.words for s in data["train"]],
                [s.words for s in data["validation"]],
                [s.tags for s in data["validation"]])
    if model.text_pairs or model.multi_label:
        raise ValueError(f"{run_dir}: pair and multi-label classifiers are "
                         "exported but not verified by this command yet")
    return (model, [e.text for e in data["train"]],
            [e.text for e in data["validation"]],
            [e.label for e in data["validation"]])


def default_name(run_dir):
    """The TF Serving model name of a run: its dataset, else `ner`."""
    return run_config(run_dir).get("dataset") or "ner"
