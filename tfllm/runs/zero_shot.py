"""Zero- and few-shot classification runs (`tfllm zero-shot`).

The settings (`ZeroShotConfig`), where the texts come from
(`read_inputs`), the classifier the settings describe
(`build_classifier`), scoring with optional contextual calibration
(`score_texts`) and the run folder of a labelled evaluation
(`write_report`: report.json/.txt, predictions.jsonl, the confusion
matrix PNG).
"""

import dataclasses
import datetime
import json
import pathlib
import sys
from typing import Optional

import numpy as np

from tfllm.config import help_field as _help
from tfllm.config import save_config
from tfllm.data.classification_datasets import DATASETS
from tfllm.data.classification_datasets import load_classification_dataset
from tfllm.data.errors import DataFormatError
from tfllm.data.errors import UserInputError
from tfllm.data.labels import build_class_list
from tfllm.data.splits import stratified_split
from tfllm.data.text_files import read_text_file
from tfllm.evaluation.classification_metrics import single_label_report
from tfllm.evaluation.confusion_plot import confusion_matrix_png
from tfllm.prompting.calibration import calibrate
from tfllm.prompting.classifier import ZeroShotClassifier
from tfllm.prompting.classifier import load_scorer
from tfllm.prompting.demonstrations import sample_demonstrations
from tfllm.prompting.templates import PromptTemplate
from tfllm.prompting.templates import parse_labels
from tfllm.utils.atomic import atomic_path

LM_TEMPLATE = "Text: {text}\nLabel:"
LABELLED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")


@dataclasses.dataclass
class ZeroShotConfig:
    """Flags of zero_shot."""

    model: str = _help(
        "'smollm2', a .gguf file, a finetune_clm model/run folder, a "
        "pretrain_clm folder (causal LMs); 'minilm', "
        "'multilingual-e5-small' or an encoder folder", "smollm2")
    scorer: Optional[str] = _help(
        "'lm' or 'encoder'; None: 'lm' for decoders, else 'encoder'")
    labels: Optional[str] = _help(
        "'label=word|word,label2=...' (a bare label is its own word, "
        "underscores read as spaces); None: the dataset's labels")
    template: Optional[str] = _help(
        "prompt with {text} ('\\n' is a newline); encoder: wraps each label "
        f"word; None: {LM_TEMPLATE!r} (LM) or '{{text}}' (encoder)")
    answer_prefix: str = _help(
        "between the prompt and a verbalizer word (not in chat mode)", " ")
    input: Optional[str] = _help(
        "texts: a file with one text per line, '-' for stdin, or a "
        "labelled .csv/.tsv/.jsonl/.txt (phrasebank) with --format")
    format: Optional[str] = _help(
        "labelled input format (csv, tsv, jsonl, phrasebank); None: plain "
        "lines unless the suffix is .csv/.tsv/.jsonl")
    text_column: str = _help("text column or JSON key", "text")
    label_column: str = _help("label column or JSON key", "label")
    dataset: Optional[str] = _help(f"a known dataset: {', '.join(DATASETS)}")
    data_dir: Optional[str] = _help("the dataset's folder")
    split: str = _help(
        "dataset split: train, validation or test (sst2: test is GLUE dev, "
        "872 sentences; banking77 validation is train_classifier's carved "
        "split, fraction 0.1, seed 42)", "validation")
    max_eval_examples: Optional[int] = _help(
        "seeded random subset of N texts", aliases=["--max-examples"])
    shots: int = _help("K demonstrations (stratified, seeded)", 0)
    train_file: Optional[str] = _help(
        "labelled file the demonstrations come from; None: the dataset's "
        "train split")
    seed: int = _help("seeds the demonstrations and subsets", 42)
    calibrate: bool = _help(
        "contextual calibration (Zhao et al. 2021) on 'N/A', '', '[MASK]'",
        False)
    normalize_length: bool = _help(
        "score words by mean, not summed, token log-likelihood", False)
    reduction: str = _help("over a label's words: max or logsumexp", "max")
    chat_template: bool = _help(
        "prompt as a user turn of the model's chat template", False)
    system_prompt: Optional[str] = _help("system message in chat mode")
    batch_size: int = _help("rows per forward pass", 16)
    max_length: int = _help("encoder: sub-tokens per text", 128)
    output_dir: str = _help(
        "parent folder of the run folder written for labelled texts", "runs")
    run_name: Optional[str] = _help("run folder name under output_dir")
    texts: tuple = dataclasses.field(default=(), metadata={
        "positional": True,
        "help": "texts to classify (or --input FILE, or --dataset)"})


def _unescape(text):
    return text.replace("\\n", "\n").replace("\\t", "\t")


def read_inputs(config):
    """`(examples, train)`: texts to classify (labelled or not) and the
    dataset's training examples (or None)."""
    if config.dataset:
        data = load_classification_dataset(config.dataset, config.data_dir)
        if config.split == "validation" and "validation" not in data:
            train, validation = stratified_split(
                [e.label for e in data["train"]], 0.1, 42)
            data["validation"] = [data["train"][i] for i in validation]
            data["train"] = [data["train"][i] for i in train]
        if config.split not in data:
            raise UserInputError(f"{config.dataset} has no {config.split} "
                                 f"split; it has {', '.join(data)}")
        return data[config.split], data["train"]
    if config.texts:
        if config.input:
            raise UserInputError("give texts or --input FILE, not both")
        return [text for text in config.texts if text.strip()], None
    if not config.input:
        raise UserInputError(
            "give texts, --input FILE (or '-' for stdin) or --dataset NAME")
    path = pathlib.Path(config.input)
    if config.format or path.suffix.lower() in LABELLED_SUFFIXES:
        return read_text_file(path, config.format, config.text_column,
                              config.label_column), None
    if config.input == "-":
        lines = sys.stdin.read().splitlines()
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()], None


def build_classifier(config, train):
    """The `ZeroShotClassifier` the flags describe."""
    scorer = load_scorer(config.model, config.scorer, config.batch_size,
                         config.max_length)
    is_lm = not hasattr(scorer, "embed")
    if config.labels:
        verbalizer = parse_labels(config.labels)
    elif train is not None:
        verbalizer = parse_labels(",".join(build_class_list(train)))
    else:
        raise UserInputError("give --labels (no dataset to take them from)")
    template = PromptTemplate(
        _unescape(config.template or (LM_TEMPLATE if is_lm else "{text}")),
        verbalizer, _unescape(config.answer_prefix))
    demonstrations = []
    if config.shots:
        if config.train_file:
            train = read_text_file(config.train_file, None,
                                   config.text_column, config.label_column)
        if train is None:
            raise UserInputError("--shots needs --train-file or --dataset")
        demonstrations = sample_demonstrations(
            train, config.shots, template.labels, config.seed)
    return ZeroShotClassifier(
        scorer, template, demonstrations, config.calibrate,
        config.normalize_length, config.reduction, config.chat_template,
        config.system_prompt)


def gold_ids(examples, labels):
    """Label ids of labelled examples.

    Raises:
        DataFormatError: a gold label the verbalizer lacks (file:line).
    """
    index = {label: i for i, label in enumerate(labels)}
    ids = []
    for e in examples:
        if e.label not in index:
            raise DataFormatError(
                e.path, e.line, f"gold label {e.label!r} is not among the "
                f"--labels ({', '.join(labels)})")
        ids.append(index[e.label])
    return np.asarray(ids)


def write_report(run_dir, config, classifier, examples, scores, seconds,
                 uncalibrated=None):
    """Writes config.yaml (the resolved settings, for `--config`),
    report.json/.txt, predictions.jsonl and the PNG.

    With `uncalibrated` (the LM's probabilities before calibration) the
    report also gives `uncalibrated_accuracy` and `uncalibrated_macro_f1`.

    Returns:
        dict: the report.
    """
    labels = classifier.labels
    gold = gold_ids(examples, labels)
    predicted = scores.argmax(axis=1)
    report = single_label_report(gold, predicted, labels)
    if uncalibrated is not None:
        before = single_label_report(gold, uncalibrated.argmax(axis=1),
                                     labels)
        report["uncalibrated_accuracy"] = before["accuracy"]
        report["uncalibrated_macro_f1"] = before["macro_f1"]
    report.update({
        "seconds": round(seconds, 1),
        "texts_per_second": round(len(examples) / max(seconds, 1e-9), 2),
        "labels": labels, "score": classifier.score_kind,
        "verbalizer": classifier.template.verbalizer,
        "template": classifier.template.template,
        "demonstrations": [{"text": e.text, "label": e.label}
                           for e in classifier.demonstrations],
        "example_prompt": classifier.prompt(examples[0].text)
        if classifier.is_lm else None,
        "content_free_probabilities": None if classifier.p_cf is None
        else classifier.p_cf.tolist(),
        "config": dataclasses.asdict(config),
    })
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(run_dir / "config.yaml", config, exclude=("run_name",
                                                          "texts"))
    with atomic_path(run_dir / "report.json") as temp:
        temp.write_text(json.dumps(report, indent=2) + "\n")
    (run_dir / "report.txt").write_text(report["report_text"])
    with atomic_path(run_dir / "predictions.jsonl") as temp, \
            open(temp, "w") as f:
        for e, g, p, row in zip(examples, gold, predicted, scores):
            f.write(json.dumps({
                "text": e.text, "gold": labels[g], "predicted": labels[p],
                "scores": [round(float(s), 6) for s in row]},
                ensure_ascii=False) + "\n")
    with atomic_path(run_dir / "confusion_matrix.png") as temp:
        temp.write_bytes(confusion_matrix_png(
            report["confusion_matrix"], labels, "zero-shot confusion"))
    return report


def score_texts(classifier, texts):
    """Classifies `texts`.

    With an LM scorer and `classifier.calibrate`, the probabilities are
    calibrated on the content-free inputs and the uncalibrated ones are
    returned too.

    Returns:
        `(predicted, scores, uncalibrated)`: label per text, float array
        `[len(texts), len(labels)]`, and the uncalibrated probabilities
        (same shape) or None.
    """
    if classifier.is_lm and classifier.calibrate:
        uncalibrated = classifier.probabilities(texts)
        scores = calibrate(uncalibrated,
                           classifier.content_free_distribution())
        predicted = [classifier.labels[i] for i in scores.argmax(axis=1)]
        return predicted, scores, uncalibrated
    predicted, scores = classifier.predict(texts)
    return predicted, scores, None


def run_folder(config):
    """`<output_dir>/<run_name>`, or a timestamped name
    (`<dataset>-zero-shot-YYYYmmdd-HHMMSS`)."""
    name = config.dataset or "zero_shot"
    return pathlib.Path(config.output_dir) / (
        config.run_name or datetime.datetime.now().strftime(
            f"{name}-zero-shot-%Y%m%d-%H%M%S"))
