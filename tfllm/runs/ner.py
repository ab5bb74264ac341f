"""A NER (token classification) run: data splits, run folder, reports.

`run(config, training, peft)` is what `tfllm train ner` /
`scripts/train_ner.py` do, built on the Python API of
`tfllm.models.token_classifier.TokenClassifier` (`from_pretrained`, `fit`,
`evaluate`, `export`), so a run from Python and from the command line give
the same model for one seed.

Default run: the offline MiniLM encoder on CoNLL-2003 (train.txt, scored on
valid.txt) with a CRF head (head learning rate 1e-3), then a raw-text
SavedModel in `saved_models/ner/<version>/`. `--dataset cluener2020`,
`weibo_ner` or `char_bio` train on Chinese character-labelled data; the
export then splits raw text into one word per CJK character
(`tfllm.preprocessing.word_splitter`).
"""

import dataclasses
import datetime
import json
import pathlib
import shutil
import tempfile
import time
from typing import Optional

from tfllm.config import help_field as _help
from tfllm.data.char_spans import ConversionReport
from tfllm.data.ner_datasets import NER_DATASETS
from tfllm.data.ner_datasets import get_ner_dataset
from tfllm.data.ner_datasets import ner_label_list
from tfllm.data.ner_datasets import read_ner_file
from tfllm.runs.summary import write_run_summary
from tfllm.training.trainer import TrainingConfig

# tfllm.models.token_classifier.HEADS, without importing TensorFlow.
HEADS = ("softmax", "crf", "global_pointer", "efficient_global_pointer")


@dataclasses.dataclass
class NerConfig:
    """What to train on and where results go (flags of `tfllm train ner`)."""

    backbone: str = dataclasses.field(default="minilm", metadata={
        "help": "'minilm' (offline default), 'multilingual-e5-small' "
                "(offline), 'm3e-small' or 'm3e-small-cased' (offline, "
                "Chinese, research use only), a Hugging Face checkpoint "
                "folder or a KerasHub preset name (online)"})
    dataset: str = dataclasses.field(default="conll2003", metadata={
        "help": f"one of {sorted(NER_DATASETS)}; the Chinese ones are "
                "labelled per character and split raw text per CJK "
                "character (char_bio needs --train-file/--validation-file)"})
    data_dir: Optional[str] = _help(
        "dataset folder; default $TFLLM_DATA_DIR/<dataset>, "
        "../shared/data/<dataset> (CoNLL-2003: then TFDS)")
    train_file: Optional[str] = _help(
        "file in the dataset's format overriding the train split")
    validation_file: Optional[str] = _help(
        "file in the dataset's format overriding the validation split")
    test_file: Optional[str] = _help(
        "file in the dataset's format scored once at the end (weibo_ner: "
        "its test split by default)")
    max_length: int = dataclasses.field(default=128, metadata={
        "help": "window length in sub-tokens; longer sentences are split "
                "into overlapping windows"})
    window_overlap: Optional[int] = _help(
        "sub-tokens shared by consecutive windows (default (max_length-2)//4)")
    label_all_tokens: bool = dataclasses.field(default=False, metadata={
        "help": "label every sub-token (B-X becomes I-X after the first)"})
    casing_features: bool = dataclasses.field(default=True, metadata={
        "help": "feed each word's casing class to the head"})
    dropout: float = 0.1
    head: str = dataclasses.field(default="crf", metadata={
        "help": "'crf' (default: a linear-chain CRF over the logits, "
                "Viterbi-decoded, valid IOB2 paths), 'softmax' (a label "
                "per sub-token), or the span heads 'efficient_global_pointer' "
                "/ 'global_pointer' (GlobalPointer: a score per start word, "
                "end word and type; nested entities)"})
    head_size: int = dataclasses.field(default=64, metadata={
        "help": "width of a GlobalPointer head's start/end vectors"})
    lexicon_features: Optional[str] = _help(
        "'jieba' or a word list file: feed each character's SoftLexicon-"
        "style word-boundary class (B/M/E/S lexicon matches) to the head "
        "(Chinese NER)")
    max_train_examples: Optional[int] = dataclasses.field(
        default=None, metadata={
            "help": "use only the first N training sentences (quick runs)",
            "aliases": ["--max-train-sentences"]})
    max_eval_examples: Optional[int] = dataclasses.field(
        default=None, metadata={
            "help": "score only the first N validation sentences "
                    "(quick runs)",
            "aliases": ["--max-eval-sentences"]})
    augment: str = _help(
        "training-set augmentation (Dai & Adel 2020): none, "
        "mention_replacement, label_wise_token_replacement, "
        "shuffle_within_segments, or several joined by commas", "none")
    augment_copies: int = _help(
        "augmented copies per training sentence and method", 1)
    augment_prob: float = _help(
        "per-mention / per-word / per-segment augmentation probability",
        0.3)
    ensemble_seeds: int = _help(
        "k > 1: train k members with seeds seed..seed+k-1 in member1..k/ "
        "and export one SavedModel averaging them (k x training and "
        "inference time)", 0)
    ensemble_folds: int = _help(
        "k > 1: train k members, member i without the i-th of k folds of "
        "the training split, and export their average", 0)
    output_dir: str = "runs"
    run_name: Optional[str] = _help(
        "run folder name under output_dir; an existing run is resumed")
    export_dir: str = "saved_models/ner"
    export: bool = dataclasses.field(default=True, metadata={
        "help": "write a TF Serving SavedModel version at the end"})


# Field names of older runs' config.json, read by `ner_config_from_dict`.
_RENAMED = {"max_train_sentences": "max_train_examples",
            "max_eval_sentences": "max_eval_examples"}


def ner_config_from_dict(values):
    """A `NerConfig` from a run's saved `config.json` dict.

    Older runs' field names (`max_train_sentences`, `max_eval_sentences`)
    are read as their new names.
    """
    return NerConfig(**{_RENAMED.get(k, k): v for k, v in values.items()})


def is_ner_config(values):
    """True if the dict's keys are all (old or new) `NerConfig` fields."""
    names = {f.name for f in dataclasses.fields(NerConfig)} | set(_RENAMED)
    return set(values) <= names


@dataclasses.dataclass
class NerTrainingConfig(TrainingConfig):
    """`TrainingConfig` with the NER defaults: the head (classifier, casing
    embedding, CRF) trains at 1e-3 (the measured best recipe with the CRF
    head: 0.9405 CoNLL-2003 validation entity F1 against 0.9181 for softmax
    at one learning rate)."""

    head_learning_rate: Optional[float] = 1e-3


def _check_file(flag, path):
    if path is not None and not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"{flag} {path}: no such file")


def load_splits(config, report=None):
    """Returns `{split: [TaggedSentence]}` for train, validation (and test).

    Character-level datasets record resolved spans, split words and
    repaired tags in `report` (`ConversionReport`).

    Raises:
        SystemExit: unknown dataset, or `char_bio` without its files.
        FileNotFoundError: a `--*-file` that does not exist (the message
            names the flag and the file) or a dataset that is not on disk.
        DataFormatError: a malformed file (names file and line).
    """
    from tfllm.data.conll import load_conll2003
    from tfllm.data.ner_datasets import load_ner_dataset as load_folder

    if config.dataset not in NER_DATASETS:
        raise SystemExit(f"--dataset {config.dataset!r}: expected one of "
                         f"{sorted(NER_DATASETS)}")
    for split in ("train", "validation", "test"):
        _check_file(f"--{split}-file", getattr(config, f"{split}_file"))
    dataset = get_ner_dataset(config.dataset)
    data = {}
    if not dataset.files and not (config.train_file
                                  and config.validation_file):
        raise SystemExit(f"--dataset {dataset.name} needs --train-file and "
                         "--validation-file")
    if config.train_file is None or config.validation_file is None:
        if dataset.name == "conll2003":
            data = load_conll2003(config.data_dir)
        else:
            data = load_folder(dataset.name, config.data_dir, report)
    for split in ("train", "validation", "test"):
        path = getattr(config, f"{split}_file")
        if path:
            data[split] = read_ner_file(dataset, path, report)
    if config.max_train_examples:
        data["train"] = data["train"][:config.max_train_examples]
    if config.max_eval_examples:
        data["validation"] = data["validation"][:config.max_eval_examples]
    return data


@dataclasses.dataclass
class NerData:
    """A NER dataset's splits and the label list a model for it needs.

    Attributes:
        name: str. The dataset (`tfllm.data.ner_datasets.NER_DATASETS`).
        train, validation: list of `TaggedSentence` (words, IOB2 tags).
        test: list of `TaggedSentence`, or None when the dataset has none
            on disk.
        labels: list of str. `ner_label_list` order: the training tags
            plus the dataset's documented entity types.
        word_splitter: str. How raw text is split into words for this
            dataset (`"whitespace"` or `"cjk_chars"`); pass it to
            `TokenClassifier.from_pretrained`.
    """

    name: str
    train: list
    validation: list
    test: Optional[list]
    labels: list
    word_splitter: str


def load_ner_dataset(name="conll2003", data_dir=None, *, train_file=None,
                     validation_file=None, test_file=None,
                     max_train_examples=None, max_eval_examples=None):
    """Loads a known NER dataset with its label list.

    Args:
        name: str. One of `tfllm.data.ner_datasets.NER_DATASETS`
            (`conll2003`, `cluener2020`, `weibo_ner`, `char_bio`).
        data_dir: str or None. The dataset folder; default
            `$TFLLM_DATA_DIR/<name>`, then `../shared/data/<name>`
            (CoNLL-2003: then TFDS).
        train_file: str or None. A file in the dataset's format replacing
            the train split (`char_bio` needs it).
        validation_file: str or None. The same for the validation split
            (`char_bio` needs it).
        test_file: str or None. The same for the test split.
        max_train_examples: int or None. Keep only the first N training
            sentences.
        max_eval_examples: int or None. Keep only the first N validation
            sentences.

    Returns:
        `NerData` (`.train`, `.validation`, `.test`, `.labels`,
        `.word_splitter`).

    Raises:
        FileNotFoundError: the dataset or a file is not on disk.
        DataFormatError: a malformed file (names file and line).
        ValueError: unknown dataset name.

    Examples:
    ```python
    data = tfllm.load_ner_dataset("conll2003")
    model = tfllm.TokenClassifier.from_pretrained("minilm", data.labels)
    model.fit(data.train, validation_data=data.validation)
    ```
    """
    get_ner_dataset(name)  # ValueError naming the known ones
    config = NerConfig(dataset=name, data_dir=data_dir,
                       train_file=train_file, validation_file=validation_file,
                       test_file=test_file,
                       max_train_examples=max_train_examples,
                       max_eval_examples=max_eval_examples)
    try:
        data = load_splits(config, ConversionReport())
    except SystemExit as error:  # library callers get a ValueError
        raise ValueError(str(error)) from None
    return NerData(name, data["train"], data["validation"], data.get("test"),
                   ner_label_list(name, data["train"]),
                   get_ner_dataset(name).word_splitter)


def report_split(model, sentences, name, run_dir):
    """Scores `sentences`, prints both reports and writes `<name>_*.json`.

    Returns:
        the `TokenClassifier.evaluate` report dict.
    """
    from tfllm.evaluation.ner_metrics import format_report

    result = model.evaluate(sentences)
    print(format_report(result["entity_strict"],
                        f"{name}: entity-level, seqeval strict IOB2"))
    print(format_report(result["token"], f"{name}: token-level (per tag)"))
    for key in ("entity_strict", "entity_conlleval", "token"):
        path = pathlib.Path(run_dir) / f"{name}_{key}.json"
        path.write_text(json.dumps(result[key], indent=2) + "\n")
    predictions = {
        "words": [s.words for s in sentences],
        "gold": [s.tags for s in sentences],
        "predicted": result["predictions"],
    }
    path = pathlib.Path(run_dir) / f"{name}_predictions.json"
    path.write_text(json.dumps(predictions) + "\n")
    return result


def report_data(model, data, report, run_dir):
    """Prints and writes `data_report.json`: conversions and unknown tokens.

    Returns:
        dict with the `ConversionReport` summary and, per split, the
        unknown-token rate of the model's vocabulary
        (`tfllm.evaluation.vocabulary_coverage`); `advice` (str) when the
        vocabulary misses more than 5% of the CJK characters: the command
        with the best Chinese NER figure.
    """
    from tfllm.evaluation.vocabulary_coverage import (
        chinese_vocabulary_advice)
    from tfllm.evaluation.vocabulary_coverage import unknown_token_rate

    result = {"conversion": report.summary(), "unknown_tokens": {}}
    for name, items in result["conversion"].items():
        if items["count"]:
            print(f"{items['count']} {name.replace('_', ' ')}, e.g. "
                  f"{items['first'][0]}")
    for split, sentences in data.items():
        coverage = unknown_token_rate(
            model.preprocessor, [s.words for s in sentences])
        result["unknown_tokens"][split] = coverage
        print(f"{split}: {coverage['subtoken_unknown_rate']:.2%} of "
              f"{coverage['subtokens']} sub-tokens are unknown "
              f"({coverage['word_unknown_rate']:.2%} of words, "
              f"{coverage['cjk_unknown_rate']:.2%} of CJK characters)")
        advice = chinese_vocabulary_advice(coverage)
        if advice and "advice" not in result:
            result["advice"] = advice
            print(f"WARNING: {advice}")
    (pathlib.Path(run_dir) / "data_report.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def write_summary(run_dir, final, history, encoded, start, extra=None):
    """Writes and prints `summary.json` (see `write_run_summary`)."""
    return write_run_summary(
        run_dir, {"validation_entity_f1_strict": final["f1"]}, history,
        encoded, start, extra)


def write_config(run_dir, config, training, peft):
    """Writes the run's settings: `config.yaml` (all three, resolved; what
    `--config` reads back) and `config.json` (the task settings, read by
    `tfllm export` and `tfllm train distill`); see
    `tfllm.runs.run_config.write_run_config`."""
    from tfllm.runs.run_config import write_run_config

    settings = [s for s in (config, training, peft) if s is not None]
    write_run_config(run_dir, *settings, json_settings=(config,))


def run(config, training=None, peft=None):
    """Trains, scores and exports one NER model: `tfllm train ner`.

    Steps: read the splits (`load_splits`; bad input fails before anything
    is written), build the model (`TokenClassifier.from_pretrained` with
    `training.seed`), apply PEFT, train (`TokenClassifier.fit`: per-epoch
    validation entity F1, best epoch kept, resumable checkpoints in the run
    folder), save `model.keras`, score validation (and test), export the
    serving SavedModel (`TokenClassifier.export`) and write `summary.json`.

    Args:
        config: `NerConfig`.
        training: `TrainingConfig` or None (`NerTrainingConfig()`).
        peft: `tfllm.peft.options.PeftArgs` or None (no PEFT method).

    Returns:
        `pathlib.Path` of the run folder
        (`<config.output_dir>/<config.run_name>`), or None on a non-chief
        worker of multi-worker training, whose temporary folder is removed.

    Raises:
        SystemExit: an unknown `--head` or dataset.
        FileNotFoundError, DataFormatError: missing or malformed data.
    """
    import keras

    from tfllm.data.conll import encode_tags
    from tfllm.models.token_classifier import TokenClassifier
    from tfllm.peft.options import PeftArgs
    from tfllm.peft.options import apply_from_args
    from tfllm.peft.options import save_from_args
    from tfllm.preprocessing.lexicon import load_lexicon
    from tfllm.training.distribute import make_strategy
    from tfllm.training.precision import set_precision

    start = time.perf_counter()
    training = training if training is not None else NerTrainingConfig()
    peft = peft if peft is not None else PeftArgs()
    if config.head not in HEADS:
        raise SystemExit(f"--head {config.head!r}: expected one of {HEADS}")
    if config.label_all_tokens and "global_pointer" in config.head:
        raise SystemExit(f"--label-all-tokens does not apply to --head "
                         f"{config.head}: a span head reads spans between "
                         "words' first sub-tokens")
    if config.lexicon_features is not None:
        load_lexicon(config.lexicon_features)  # a bad word list fails first
    strategy = make_strategy(training.strategy)
    set_precision(training.precision)
    keras.utils.set_random_seed(training.seed)
    if config.ensemble_seeds > 1 or config.ensemble_folds > 1:
        from tfllm.runs.ensemble_run import run_ner_ensemble

        return run_ner_ensemble(config, training, peft, strategy, start)
    run_name = config.run_name or datetime.datetime.now().strftime(
        "ner-%Y%m%d-%H%M%S")
    chief = _is_chief()
    run_dir = pathlib.Path(config.output_dir) / run_name
    report = ConversionReport()
    data = load_splits(config, report)  # bad input fails before any output
    id2label = ner_label_list(config.dataset, data["train"])
    for split in ("validation", "test"):  # unknown labels fail early
        if split in data:
            encode_tags(data[split], id2label)
    if not chief:  # only the chief writes the run folder and exports
        run_dir = pathlib.Path(tempfile.mkdtemp(prefix="tfllm-worker-"))
    try:
        _run(config, training, peft, data, report, id2label, run_dir,
             chief, strategy, start, TokenClassifier, apply_from_args,
             save_from_args)
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)
    if not chief:
        return None
    print(f"run folder: {run_dir} (tensorboard --logdir {config.output_dir})")
    return run_dir


def _is_chief():
    from tfllm.training import distribute

    return distribute.is_chief()


def _run(config, training, peft, data, report, id2label, run_dir, chief,
         strategy, start, TokenClassifier, apply_from_args, save_from_args):
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, config, training, peft)
    (run_dir / "labels.json").write_text(json.dumps(id2label) + "\n")
    print(f"{len(data['train'])} training / {len(data['validation'])} "
          f"validation sentences; labels {id2label}")
    with strategy.scope():
        model = TokenClassifier.from_pretrained(
            config.backbone, id2label, head=config.head,
            head_size=config.head_size, max_length=config.max_length,
            window_overlap=config.window_overlap,
            casing_features=config.casing_features, dropout=config.dropout,
            lexicon_features=config.lexicon_features,
            word_splitter=get_ner_dataset(config.dataset).word_splitter,
            seed=training.seed)
        peft_summary = apply_from_args(model, peft)
    data_report = report_data(model, data, report, run_dir)
    validation = data["validation"]
    with strategy.scope():
        history = model.fit(
            data["train"], validation_data=validation, run_dir=run_dir,
            training_config=training,
            label_all_tokens=config.label_all_tokens,
            augment=config.augment, augment_copies=config.augment_copies,
            augment_prob=config.augment_prob)
    encoded = history.encoded
    print(f"{encoded.num_windows} training windows, "
          f"{encoded.num_tokens} sub-tokens per epoch")
    # `fit` with a run_dir has written run_dir/model.keras.
    peft_summary.update(save_from_args(model, peft, run_dir, config.backbone))
    final = report_split(model, validation, "validation", run_dir)
    extra = {
        "dataset": config.dataset,
        "head": config.head,
        "head_learning_rate": training.head_learning_rate,
        "lexicon_features": config.lexicon_features,
        "unknown_subtoken_rate": {
            split: r["subtoken_unknown_rate"]
            for split, r in data_report["unknown_tokens"].items()},
    }
    if "test" in data:
        extra["test_entity_f1_strict"] = report_split(
            model, data["test"], "test", run_dir)["f1"]
    if config.export and chief:
        path = model.export(config.export_dir)
        print(f"exported the serving SavedModel to {path}")
    extra.update(peft_summary)
    write_summary(run_dir, final, list(history), encoded, start, extra)


@dataclasses.dataclass
class NerEvaluationConfig:
    """What to score and where the report goes (`tfllm evaluate ner`)."""

    model: Optional[str] = _help(
        "trained model: a run folder (model.keras) or a .keras file")
    dataset: str = dataclasses.field(default="conll2003", metadata={
        "help": f"one of {sorted(NER_DATASETS)}: the format of --file and "
                "the splits read from --data-dir"})
    data_dir: Optional[str] = _help(
        "dataset folder; default $TFLLM_DATA_DIR/<dataset>")
    file: Optional[str] = _help(
        "file in the dataset's format to score instead of --split")
    split: str = dataclasses.field(default="validation", metadata={
        "help": "split of the dataset to score: validation or test"})
    max_eval_examples: Optional[int] = dataclasses.field(
        default=None, metadata={
            "help": "score only the first N sentences",
            "aliases": ["--max-eval-sentences"]})
    output: Optional[str] = _help(
        "write the report (JSON: f1, entity_strict, entity_conlleval, "
        "token, predictions) to this file")


def evaluate_model(config):
    """Scores a trained model on a file or a dataset split.

    Args:
        config: `NerEvaluationConfig` with `model` set.

    Returns:
        `(report, sentences)`: the `TokenClassifier.evaluate` dict (`f1`,
        `entity_strict`, `entity_conlleval`, `token`, `predictions`) and
        the scored `TaggedSentence`s.

    Raises:
        ValueError: no model, an export folder, an unknown split, or tags
            the model does not know.
        FileNotFoundError, DataFormatError: missing or malformed data.
    """
    from tfllm.models.token_classifier import TokenClassifier

    if config.model is None:
        raise ValueError("give --model RUN_FOLDER (or a .keras file)")
    if config.file is not None:
        _check_file("--file", config.file)
        sentences = read_ner_file(config.dataset, config.file)
    else:
        if config.split not in ("validation", "test"):
            raise ValueError(f"--split {config.split!r}: expected "
                             "validation or test")
        data = load_ner_dataset(config.dataset, config.data_dir)
        sentences = getattr(data, config.split)
        if sentences is None:
            raise FileNotFoundError(
                f"{config.dataset} has no {config.split} split on disk; "
                "pass --file")
    if config.max_eval_examples:
        sentences = sentences[:config.max_eval_examples]
    model = TokenClassifier.load(config.model)
    report = model.evaluate(sentences)
    if config.output:
        path = pathlib.Path(config.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False)
                        + "\n")
    return report, sentences
