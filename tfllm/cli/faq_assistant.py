"""FAQ assistant: build an index, fine-tune the encoder, evaluate, export, ask.

Subcommands (each takes `--help`):

- `build`: embed an FAQ (a file, or Banking77's training utterances with
  one answer template per intent) and save an assistant folder (index +
  `assistant.json`).
- `train`: fine-tune the encoder contrastively (multiple-negatives ranking
  loss, in-batch negatives) on (utterance, other utterance of the same
  intent) pairs with the shared training loop and the `--peft` flags;
  every epoch scores top-1 retrieval accuracy on the validation queries.
- `evaluate`: top-1 intent accuracy of retrieval (each aggregation), of a
  classifier and of their mix; fits the mix weight and the hand-over
  threshold on one half of the validation queries and reports the other
  half; saves the fitted assistant folder.
- `export`: a raw-text SavedModel (top-k ids, scores, answers, hand-over).
- `ask`: answer queries from a file (one per line) or stdin, as JSON lines;
  `--reword smollm2` adds a reply worded by a causal LM from the approved
  answer, marked as generated.

Validation queries are the `--queries-file`, or a stratified split carved
from the FAQ utterances with `tfllm.data.splits.stratified_split` (fraction
0.1, seed 42: for Banking77 the same split `train_classifier` carves).
"""

import argparse
import dataclasses
import json
import pathlib
import sys
import time
from typing import Optional

import numpy as np

from tfllm.cli.args import add_dataclass_arguments
from tfllm.cli.args import help_field as _help
from tfllm.peft.options import PeftArgs
from tfllm.data.splits import stratified_split
from tfllm.data.text_files import read_text_file

DEFAULT_ANSWERS = {
    "banking77": pathlib.Path(__file__).resolve().parents[1] / "apps"
    / "data" / "banking77_answers.json"}


@dataclasses.dataclass
class FaqData:
    """Where the FAQ and the validation queries come from."""

    dataset: Optional[str] = _help(
        "banking77: FAQ = training utterances with tfllm's answer templates "
        "(tfllm/apps/data/banking77_answers.json)")
    data_dir: Optional[str] = _help("the dataset's folder")
    faq_file: Optional[str] = _help(
        "FAQ file (CSV/TSV/JSONL): question/answer, or utterance/intent "
        "with --answers-file")
    answers_file: Optional[str] = _help(
        "intent -> answer template (.json object, or CSV/TSV/JSONL with "
        "intent and answer columns)")
    queries_file: Optional[str] = _help(
        "labelled validation queries (question and intent columns); None: "
        "carved from the FAQ")
    question_column: str = "question"
    answer_column: str = "answer"
    intent_column: str = "intent"
    validation_fraction: float = 0.1
    split_seed: int = _help(
        "seed of the carved split (train_classifier carves with its --seed,"
        " default 42)", 42)


@dataclasses.dataclass
class EncoderArgs:
    """The sentence encoder."""

    encoder: str = _help(
        "backbone name ('minilm') or a `train` run folder", "minilm")
    max_length: int = _help("longest sequence in sub-tokens", 64)


def load_faq(data):
    """`(faq_entries, queries)`: the FAQ and labelled `(text, intent)`s.

    Raises:
        SystemExit: neither `--dataset` nor `--faq-file`.
    """
    from tfllm.data.classification_datasets import (
        load_classification_dataset)
    from tfllm.retrieval.faq_files import entries_with_answers
    from tfllm.retrieval.faq_files import read_answers
    from tfllm.retrieval.faq_files import read_faq

    if data.dataset:
        examples = load_classification_dataset(
            data.dataset, data.data_dir)["train"]
        answers_file = data.answers_file or DEFAULT_ANSWERS.get(data.dataset)
        if answers_file is None:
            raise SystemExit(f"--dataset {data.dataset}: give --answers-file")
        entries = entries_with_answers(examples, read_answers(answers_file),
                                       str(answers_file))
    elif data.faq_file:
        entries = read_faq(data.faq_file, None, data.question_column,
                           data.answer_column, data.intent_column,
                           data.answers_file)
    else:
        raise SystemExit("give --dataset banking77 or --faq-file FILE")
    if data.queries_file:
        rows = read_text_file(data.queries_file, None, data.question_column,
                              data.intent_column)
        return entries, [(r.text, r.label) for r in rows]
    train, validation = stratified_split(
        [e.intent for e in entries], data.validation_fraction, data.split_seed)
    print(f"carved {len(validation)} validation queries from "
          f"{len(entries)} FAQ entries (stratified, fraction "
          f"{data.validation_fraction}, seed {data.split_seed})")
    queries = [(entries[i].question, entries[i].intent) for i in validation]
    return [entries[i] for i in train], queries


def retrieval_accuracy(encoder, entries, queries, model_name="encoder"):
    """Top-1 intent accuracy of retrieval (the nearest entry's intent)."""
    from tfllm.apps.customer_service import build_index
    from tfllm.retrieval.embedding import embed_texts

    index = build_index(encoder, entries, model_name)
    _, ids = index.search(embed_texts(encoder, [q for q, _ in queries]), 1)
    predicted = [entries[i].intent for i in ids[:, 0]]
    return float(np.mean([p == g for p, (_, g) in zip(predicted, queries)]))


# --- build -----------------------------------------------------------------

@dataclasses.dataclass
class BuildArgs:
    output: str = _help("assistant folder to write", "saved_models/faq_index")
    backend: str = _help("auto, exact or faiss_hnsw", "auto")
    k: int = 5
    aggregation: str = _help("max or vote", "max")
    threshold: Optional[float] = _help(
        "hand-over threshold on the best score (None: `evaluate` fits it)")


def build(data, encoder_args, args):
    from tfllm.apps.customer_service import FaqAssistant
    from tfllm.apps.customer_service import build_index
    from tfllm.retrieval.embedding import load_sentence_encoder

    entries, _ = load_faq(data)
    encoder = load_sentence_encoder(encoder_args.encoder,
                                    encoder_args.max_length)
    start = time.perf_counter()
    index = build_index(encoder, entries, encoder_args.encoder, args.backend)
    assistant = FaqAssistant(encoder, index, args.threshold, k=args.k,
                             aggregation=args.aggregation)
    assistant.save(args.output)
    print(f"indexed {len(index)} entries ({index.backend}, "
          f"{time.perf_counter() - start:.1f} s) -> {args.output}")
    return pathlib.Path(args.output)


# --- train -----------------------------------------------------------------

@dataclasses.dataclass
class ContrastiveTraining:
    """Contrastive fine-tuning settings (`tfllm.training.TrainingConfig`
    defaults differ: 1 epoch, batch 64, lr 5e-5)."""

    output_dir: str = "runs"
    run_name: Optional[str] = _help("run folder (an existing one resumes)")
    scale: float = _help("MNRL inverse temperature", 20.0)
    symmetric: bool = _help("also rank anchors given positives", False)


def train_encoder(data, encoder_args, args, training, peft_args):
    import keras

    from tfllm.peft.options import apply_from_args
    from tfllm.peft.options import save_from_args
    from tfllm.runs.summary import write_run_summary
    from tfllm.retrieval.contrastive import build_sentence_encoder
    from tfllm.retrieval.contrastive import encode_pairs
    from tfllm.retrieval.contrastive import make_pairs
    from tfllm.training.trainer import train

    start = time.perf_counter()
    keras.utils.set_random_seed(training.seed)
    entries, queries = load_faq(data)
    run_dir = pathlib.Path(args.output_dir) / (
        args.run_name or time.strftime("faq-encoder-%Y%m%d-%H%M%S"))
    run_dir.mkdir(parents=True, exist_ok=True)
    encoder = build_sentence_encoder(encoder_args.encoder,
                                     encoder_args.max_length, args.scale,
                                     args.symmetric)
    peft_summary = apply_from_args(encoder, peft_args)
    anchors, positives, groups = make_pairs(
        [e.question for e in entries], [e.intent for e in entries],
        training.seed)
    encoded = encode_pairs(encoder.preprocessor, anchors, positives, groups)
    print(f"{len(anchors)} training pairs, {len(queries)} validation "
          f"queries; batch {training.batch_size}, scale {args.scale}"
          f"{', symmetric' if args.symmetric else ''}")

    def evaluate(model):
        accuracy = retrieval_accuracy(model, entries, queries)
        return {"retrieval_top1_accuracy": accuracy}, {}

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                      reduction="sum")
    encoder, history = train(encoder, encoded, training, run_dir, evaluate,
                             "retrieval_top1_accuracy", loss)
    encoder.save(run_dir / "model.keras")
    peft_summary.update(save_from_args(encoder, peft_args, run_dir,
                                       encoder_args.encoder))
    best = max(r["val_retrieval_top1_accuracy"] for r in history)
    write_run_summary(run_dir, {"validation_retrieval_top1_accuracy": best},
                      history, encoded, start, peft_summary)
    print(f"run folder: {run_dir} (use --encoder {run_dir})")
    return run_dir


# --- evaluate --------------------------------------------------------------

@dataclasses.dataclass
class EvaluateArgs:
    classifier: Optional[str] = _help(
        "a train_classifier run folder or SavedModel export to mix in")
    report: str = _help("JSON report to write", "faq_report.json")
    output: Optional[str] = _help(
        "assistant folder to write with the fitted threshold (and "
        "classifier weight)")
    k: int = _help("neighbours for the vote aggregation", 10)


def evaluate(data, encoder_args, args):
    from tfllm.cli.faq_evaluation import run_evaluation

    return run_evaluation(data, encoder_args, args)


# --- export / ask ----------------------------------------------------------

@dataclasses.dataclass
class ExportArgs:
    assistant: str = _help("assistant folder (build/evaluate --output)",
                           "saved_models/faq_index")
    export_dir: str = _help("SavedModel base folder (versions inside)",
                            "saved_models/faq")
    k: int = 5


def export(args):
    from tfllm.apps.customer_service import FaqAssistant
    from tfllm.export.retrieval_serving import export_retrieval

    assistant = FaqAssistant.load(args.assistant)
    settings = assistant.settings()
    threshold, confidence = settings["threshold"], assistant.confidence
    if assistant.classifier is not None:
        # The SavedModel serves retrieval alone: its own fitted rule.
        threshold = settings.get("retrieval_threshold", threshold)
        confidence = settings.get("retrieval_confidence", confidence)
        print(f"note: the SavedModel serves retrieval alone (hand-over when "
              f"the {confidence} is under {threshold:.4f})")
    path = export_retrieval(assistant.encoder, assistant.index,
                            args.export_dir, args.k, threshold,
                            aggregation=assistant.aggregation,
                            confidence=confidence, scale=assistant.scale,
                            handover_message=assistant.handover_message)
    print(f"exported the FAQ SavedModel to {path}")
    return path


@dataclasses.dataclass
class AskArgs:
    assistant: str = _help("assistant folder", "saved_models/faq_index")
    input: str = _help("file with one query per line, or - for stdin", "-")
    reword: Optional[str] = _help(
        "a causal LM ('smollm2', a .gguf file or a finetune_clm run) that "
        "rewords each approved answer (retrieval-augmented generation; "
        "output marked generated_reply / generated_by)")
    max_new_tokens: int = _help("reply length limit with --reword", 64)


def ask(args):
    from tfllm.apps.customer_service import FaqAssistant

    assistant = FaqAssistant.load(args.assistant)
    stream = (sys.stdin if args.input == "-"
              else open(args.input, encoding="utf-8"))
    with stream:
        texts = [line.strip() for line in stream if line.strip()]
    results = assistant.answer(texts)
    if args.reword:
        from tfllm.apps.customer_service import REPLY_SYSTEM_PROMPT
        from tfllm.apps.customer_service import add_generated_replies
        from tfllm.generation import GenerationConfig
        from tfllm.generation.text import load_generator

        causal_lm, preprocessor = load_generator(
            args.reword, system_prompt=REPLY_SYSTEM_PROMPT)
        add_generated_replies(results, causal_lm, preprocessor,
                              GenerationConfig(args.max_new_tokens),
                              args.reword)
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    return results


COMMANDS = {
    "build": ([FaqData, EncoderArgs, BuildArgs], build),
    "train": ([FaqData, EncoderArgs, ContrastiveTraining, "training",
               PeftArgs], train_encoder),
    "evaluate": ([FaqData, EncoderArgs, EvaluateArgs], evaluate),
    "export": ([ExportArgs], export),
    "ask": ([AskArgs], ask),
}


def _training_config():
    from tfllm.training.trainer import TrainingConfig

    @dataclasses.dataclass
    class TrainingDefaults(TrainingConfig):
        epochs: int = 1
        batch_size: int = 64
        learning_rate: float = 5e-5
        checkpoint_every_steps: int = 0

    return TrainingDefaults


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    classes = {}
    for name, (parts, _) in COMMANDS.items():
        sub = commands.add_parser(name)
        parts = [_training_config() if p == "training" else p for p in parts]
        for cls in parts:
            add_dataclass_arguments(sub, cls)
        classes[name] = parts
    namespace = vars(parser.parse_args(argv))
    name = namespace["command"]
    values = [cls(**{f.name: namespace[f.name]
                     for f in dataclasses.fields(cls)})
              for cls in classes[name]]
    return COMMANDS[name][1](*values)


def cli():
    """Console-script entry point: user errors (a stale index, a split
    that leaves no validation query) end it with one line, exit 2."""
    from tfllm.cli.args import run_cli

    return run_cli(main)


if __name__ == "__main__":
    cli()
