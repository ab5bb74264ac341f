"""FAQ assistant: build an index, fine-tune the encoder, evaluate, export, ask.

Usage: tfllm faq build|train|evaluate|export|ask [options]
(`python scripts/faq_assistant.py` takes the same arguments.)

Subcommands (each takes `--help` and `--config FILE`):

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


import dataclasses
import json
import pathlib
import sys
import time
from typing import Optional

from tfllm.apps.faq import DEFAULT_ANSWERS  # noqa: F401  (re-exported)
from tfllm.apps.faq import EncoderArgs
from tfllm.apps.faq import FaqData
from tfllm.apps.faq import load_faq
from tfllm.apps.faq import retrieval_accuracy  # noqa: F401  (re-exported)
from tfllm.cli.args import build_subcommand_parser
from tfllm.cli.args import run_subcommand
from tfllm.cli.args import help_field as _help
from tfllm.peft.options import PeftArgs
from tfllm.runs.faq import ContrastiveTraining
from tfllm.runs.faq import train_encoder


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
    encoder = load_sentence_encoder(encoder_args.backbone,
                                    encoder_args.max_length)
    start = time.perf_counter()
    index = build_index(encoder, entries, encoder_args.backbone, args.backend)
    assistant = FaqAssistant(encoder, index, args.threshold, k=args.k,
                             aggregation=args.aggregation)
    assistant.save(args.output)
    print(f"indexed {len(index)} entries ({index.backend}, "
          f"{time.perf_counter() - start:.1f} s) -> {args.output}")
    return pathlib.Path(args.output)


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
    from tfllm.apps.faq_evaluation import run_evaluation

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



COMMAND_HELP = {
    "build": "embed an FAQ and save an assistant folder",
    "train": "fine-tune the sentence encoder contrastively",
    "evaluate": "score retrieval, a classifier and their mix; fit the "
                "hand-over threshold",
    "export": "export a raw-text SavedModel of the assistant",
    "ask": "answer queries from a file or stdin (JSON lines)",
}


def build_parser(prog=None):
    """The argument parser of `tfllm faq`: one subcommand per entry of
    `COMMANDS`, each a `DataclassParser` (its flags, `--config FILE`,
    `-v`)."""
    commands = {name: ([_training_config() if p == "training" else p
                        for p in parts], run)
                for name, (parts, run) in COMMANDS.items()}
    return build_subcommand_parser(commands, COMMAND_HELP, __doc__, prog)


def main(argv=None):
    """Runs one subcommand; returns what it returns (a folder, a report,
    the answers)."""
    return run_subcommand(build_parser(), COMMANDS, argv)


def cli():
    """Console-script entry point: user errors (a stale index, a split
    that leaves no validation query) end it with one line, exit 2."""
    from tfllm.cli.args import run_cli

    run_cli(main)


if __name__ == "__main__":
    cli()
