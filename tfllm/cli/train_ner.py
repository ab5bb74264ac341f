"""Fine-tune an encoder for NER (token classification) and export it.

Default run: the offline MiniLM encoder on CoNLL-2003 (train.txt, scored on
valid.txt), then a raw-text SavedModel in `saved_models/ner/<version>/`.
"""

import dataclasses
import datetime
import json
import os
import pathlib
import platform
import resource
import tempfile
import time
from typing import Optional

import keras

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.cli.peft_args import PeftArgs
from tfllm.cli.peft_args import apply_from_args
from tfllm.cli.peft_args import save_from_args
from tfllm.data.conll import encode_tags
from tfllm.data.conll import load_conll2003
from tfllm.data.conll import read_conll
from tfllm.data.pipeline import encode_token_classification
from tfllm.data.tagging import build_label_list
from tfllm.data.tagging import inside_label_ids
from tfllm.evaluation.ner_evaluator import evaluate_ner
from tfllm.evaluation.ner_metrics import format_report
from tfllm.export.ner_serving import export_ner
from tfllm.models.token_classifier import build_token_classifier
from tfllm.training.distribute import is_chief
from tfllm.training.distribute import make_strategy
from tfllm.training.precision import set_precision
from tfllm.training.trainer import TrainingConfig
from tfllm.training.trainer import train


def _help(text):
    return dataclasses.field(default=None, metadata={"help": text})


@dataclasses.dataclass
class NerConfig:
    """What to train on and where results go (flags of `train_ner.py`)."""

    backbone: str = dataclasses.field(default="minilm", metadata={
        "help": "'minilm' (offline default), a Hugging Face checkpoint folder"
                " or a KerasHub preset name (online)"})
    data_dir: Optional[str] = _help(
        "CoNLL-2003 folder (train.txt, valid.txt); default "
        "$TFLLM_DATA_DIR/conll2003, ../shared/data/conll2003, then TFDS")
    train_file: Optional[str] = _help("CoNLL file overriding the train split")
    validation_file: Optional[str] = _help(
        "CoNLL file overriding the validation split")
    test_file: Optional[str] = _help("CoNLL file scored once at the end")
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


def load_splits(config):
    """Returns `{split: [TaggedSentence]}` for train, validation (and test)."""
    data = {}
    if config.train_file is None or config.validation_file is None:
        data = load_conll2003(config.data_dir)
    if config.train_file:
        data["train"] = read_conll(config.train_file)
    if config.validation_file:
        data["validation"] = read_conll(config.validation_file)
    if config.test_file:
        data["test"] = read_conll(config.test_file)
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


def write_summary(run_dir, final, history, encoded, start, extra=None):
    """Writes and prints `summary.json`: the figures a benchmark quotes."""
    epochs = [r for r in history if "epoch_seconds" in r]
    summary = {
        "validation_entity_f1_strict": final["f1"],
        "epochs_this_process": len(epochs),
        "training_subtokens_per_epoch": encoded.num_tokens,
        "mean_training_tokens_per_second": (
            sum(r["train_tokens_per_second"] for r in epochs) / len(epochs)
            if epochs else None),
        "mean_seconds_per_epoch": (
            sum(r["epoch_seconds"] for r in epochs) / len(epochs)
            if epochs else None),
        "peak_memory_mib": resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_seconds": time.perf_counter() - start,
        "machine": f"{platform.machine()}, {platform.processor() or '?'}, "
                   f"{os.cpu_count()} CPUs",
        "date": datetime.date.today().isoformat(),
        **(extra or {}),
    }
    (pathlib.Path(run_dir) / "summary.json").write_text(
        json.dumps(summary, indent=2) + "\n")
    print("summary:", json.dumps(summary))
    return summary


def main(argv=None):
    start = time.perf_counter()
    config, training, peft_args = parse_dataclasses(
        [NerConfig, TrainingConfig, PeftArgs], argv, description=__doc__
    )
    strategy = make_strategy(training.strategy)
    set_precision(training.precision)
    keras.utils.set_random_seed(training.seed)
    run_name = config.run_name or datetime.datetime.now().strftime(
        "ner-%Y%m%d-%H%M%S")
    run_dir = pathlib.Path(config.output_dir) / run_name
    if not is_chief():  # only the chief writes the run folder and exports
        run_dir = pathlib.Path(tempfile.mkdtemp(prefix="tfllm-worker-"))
        config.export = False
    data = load_splits(config)  # bad input fails before any folder is made
    id2label = build_label_list(s.tags for s in data["train"])
    encode_tags(data["validation"], id2label)  # unknown labels fail early
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
        )
        peft_summary = apply_from_args(model, peft_args)
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
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")
    with strategy.scope():
        model, history = train(model, encoded, training, run_dir, evaluate,
                               "entity_f1", loss)
    model.save(run_dir / "model.keras")
    peft_summary.update(
        save_from_args(model, peft_args, run_dir, config.backbone))
    final = report_split(model, validation, "validation", run_dir)
    if "test" in data:
        encode_tags(data["test"], id2label)
        report_split(model, data["test"], "test", run_dir)
    if config.export:
        path = export_ner(model, config.export_dir)
        print(f"exported the serving SavedModel to {path}")
    write_summary(run_dir, final, history, encoded, start, peft_summary)
    print(f"run folder: {run_dir} (tensorboard --logdir {config.output_dir})")
    return run_dir

def cli():
    """Console-script entry point."""
    return run_cli(main)


if __name__ == "__main__":
    run_cli(main)
