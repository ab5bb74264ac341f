"""Fine-tune an encoder for NER (token classification) and export it.

Default run: the offline MiniLM encoder on CoNLL-2003 (train.txt, scored on
valid.txt), then a raw-text SavedModel in `saved_models/ner/<version>/`.
`--dataset cluener2020`, `weibo_ner` or `char_bio` train on Chinese
character-labelled data; the export then splits raw text into one word per
CJK character (`tfllm.preprocessing.word_splitter`).
"""

import dataclasses
import datetime
import json
import pathlib
import tempfile
import time
from typing import Optional

import keras

from tfllm.cli.args import help_field as _help
from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.runs.summary import write_run_summary
from tfllm.peft.options import PeftArgs
from tfllm.peft.options import apply_from_args
from tfllm.peft.options import save_from_args
from tfllm.data.conll import encode_tags
from tfllm.data.conll import load_conll2003
from tfllm.data.char_spans import ConversionReport
from tfllm.data.ner_datasets import NER_DATASETS
from tfllm.data.ner_datasets import get_ner_dataset
from tfllm.data.ner_datasets import load_ner_dataset
from tfllm.data.ner_datasets import ner_label_list
from tfllm.data.ner_datasets import read_ner_file
from tfllm.data.pipeline import encode_token_classification
from tfllm.data.tagging import inside_label_ids
from tfllm.evaluation.ner_evaluator import evaluate_ner
from tfllm.evaluation.ner_metrics import format_report
from tfllm.evaluation.vocabulary_coverage import chinese_vocabulary_advice
from tfllm.evaluation.vocabulary_coverage import unknown_token_rate
from tfllm.export.ner_serving import export_ner
from tfllm.models.token_classifier import HEADS
from tfllm.models.token_classifier import build_token_classifier
from tfllm.preprocessing.lexicon import load_lexicon
from tfllm.training.distribute import is_chief
from tfllm.training.distribute import make_strategy
from tfllm.training.precision import set_precision
from tfllm.training.trainer import TrainingConfig
from tfllm.training.trainer import train


@dataclasses.dataclass
class NerConfig:
    """What to train on and where results go (flags of `train_ner.py`)."""

    backbone: str = dataclasses.field(default="minilm", metadata={
        "help": "'minilm' (offline default), a Hugging Face checkpoint folder"
                " or a KerasHub preset name (online)"})
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
    head: str = dataclasses.field(default="softmax", metadata={
        "help": "'softmax' (a label per sub-token) or 'crf' (a linear-chain "
                "CRF over the logits: Viterbi-decoded, valid IOB2 paths); "
                "with crf, a --head-learning-rate such as 1e-3 is common"})
    lexicon_features: Optional[str] = _help(
        "'jieba' or a word list file: feed each character's SoftLexicon-"
        "style word-boundary class (B/M/E/S lexicon matches) to the head "
        "(Chinese NER)")
    max_train_sentences: Optional[int] = _help(
        "use only the first N training sentences (quick runs)")
    max_eval_sentences: Optional[int] = _help(
        "score only the first N validation sentences (quick runs)")
    output_dir: str = "runs"
    run_name: Optional[str] = _help(
        "run folder name under output_dir; an existing run is resumed")
    export_dir: str = "saved_models/ner"
    export: bool = dataclasses.field(default=True, metadata={
        "help": "write a TF Serving SavedModel version at the end"})


def load_splits(config, report=None):
    """Returns `{split: [TaggedSentence]}` for train, validation (and test).

    Character-level datasets record resolved spans, split words and
    repaired tags in `report` (`ConversionReport`).
    """
    if config.dataset not in NER_DATASETS:
        raise SystemExit(f"--dataset {config.dataset!r}: expected one of "
                         f"{sorted(NER_DATASETS)}")
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
            data = load_ner_dataset(dataset.name, config.data_dir, report)
    for split in ("train", "validation", "test"):
        path = getattr(config, f"{split}_file")
        if path:
            data[split] = read_ner_file(dataset, path, report)
    if config.max_train_sentences:
        data["train"] = data["train"][:config.max_train_sentences]
    if config.max_eval_sentences:
        data["validation"] = data["validation"][:config.max_eval_sentences]
    return data


def report_split(model, sentences, name, run_dir):
    """Scores `sentences`, prints both reports and writes `<name>_*.json`."""
    result = evaluate_ner(
        model, [s.words for s in sentences], [s.tags for s in sentences]
    )
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


def main(argv=None):
    start = time.perf_counter()
    config, training, peft_args = parse_dataclasses(
        [NerConfig, TrainingConfig, PeftArgs], argv, description=__doc__
    )
    if config.head not in HEADS:
        raise SystemExit(f"--head {config.head!r}: expected one of {HEADS}")
    if config.lexicon_features is not None:
        load_lexicon(config.lexicon_features)  # a bad word list fails first
    strategy = make_strategy(training.strategy)
    set_precision(training.precision)
    keras.utils.set_random_seed(training.seed)
    run_name = config.run_name or datetime.datetime.now().strftime(
        "ner-%Y%m%d-%H%M%S")
    run_dir = pathlib.Path(config.output_dir) / run_name
    if not is_chief():  # only the chief writes the run folder and exports
        run_dir = pathlib.Path(tempfile.mkdtemp(prefix="tfllm-worker-"))
        config.export = False
    report = ConversionReport()
    data = load_splits(config, report)  # bad input fails before any output
    id2label = ner_label_list(config.dataset, data["train"])
    for split in ("validation", "test"):  # unknown labels fail early
        if split in data:
            encode_tags(data[split], id2label)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(
        dataclasses.asdict(config), indent=2) + "\n")
    (run_dir / "labels.json").write_text(json.dumps(id2label) + "\n")
    print(f"{len(data['train'])} training / {len(data['validation'])} "
          f"validation sentences; labels {id2label}")

    with strategy.scope():
        model = build_token_classifier(
            config.backbone, id2label, config.max_length,
            config.window_overlap, config.casing_features, config.dropout,
            word_splitter=get_ner_dataset(config.dataset).word_splitter,
            head=config.head, lexicon_features=config.lexicon_features,
        )
        peft_summary = apply_from_args(model, peft_args)
    data_report = report_data(model, data, report, run_dir)
    encoded = encode_token_classification(
        model.preprocessor,
        [s.words for s in data["train"]],
        encode_tags(data["train"], id2label),
        inside_label_ids(id2label) if config.label_all_tokens else None,
    )
    print(f"{encoded.num_windows} training windows, "
          f"{encoded.num_tokens} sub-tokens per epoch")
    validation = data["validation"]

    def evaluate(m):
        result = evaluate_ner(
            m, [s.words for s in validation], [s.tags for s in validation])
        return {"entity_f1": result["f1"]}, {
            k: result[k] for k in ("entity_strict", "entity_conlleval")}

    # Sum over tokens; the pipeline's weights turn it into the token mean
    # of each optimizer update (see tfllm.data.pipeline.normalize_weights).
    # Cross-entropy, or the CRF NLL spread over each window's tokens.
    loss = model.training_loss(reduction="sum")
    with strategy.scope():
        model, history = train(model, encoded, training, run_dir, evaluate,
                               "entity_f1", loss)
    model.save(run_dir / "model.keras")
    peft_summary.update(
        save_from_args(model, peft_args, run_dir, config.backbone))
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
        encode_tags(data["test"], id2label)
        extra["test_entity_f1_strict"] = report_split(
            model, data["test"], "test", run_dir)["f1"]
    if config.export:
        path = export_ner(model, config.export_dir)
        print(f"exported the serving SavedModel to {path}")
    extra.update(peft_summary)
    write_summary(run_dir, final, history, encoded, start, extra)
    print(f"run folder: {run_dir} (tensorboard --logdir {config.output_dir})")
    return run_dir

def cli():
    """Console-script entry point."""
    return run_cli(main)


if __name__ == "__main__":
    run_cli(main)
