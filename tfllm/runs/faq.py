"""Contrastive fine-tuning runs of the FAQ assistant's sentence encoder
(`tfllm faq train`): settings (`ContrastiveTraining`) and the run
(`train_encoder`: pairs, the shared training loop, run folder)."""

import dataclasses
import pathlib
import time
from typing import Optional

from tfllm.apps.faq import load_faq
from tfllm.apps.faq import retrieval_accuracy
from tfllm.config import help_field as _help
from tfllm.config import save_config


@dataclasses.dataclass
class ContrastiveTraining:
    """Contrastive fine-tuning settings (`tfllm.training.TrainingConfig`
    defaults differ: 1 epoch, batch 64, lr 5e-5)."""

    output_dir: str = "runs"
    run_name: Optional[str] = _help("run folder (an existing one resumes)")
    scale: float = _help("MNRL inverse temperature", 20.0)
    symmetric: bool = _help("also rank anchors given positives", False)


def train_encoder(data, encoder_args, args, training, peft_args):
    """Fine-tunes a sentence encoder contrastively on FAQ pairs.

    Pairs are (utterance, another utterance of the same intent); the loss
    is the multiple-negatives ranking loss with in-batch negatives; every
    epoch scores top-1 retrieval accuracy on the validation queries and
    the best epoch's weights are kept.

    Args:
        data: `tfllm.apps.faq.FaqData`.
        encoder_args: `tfllm.apps.faq.EncoderArgs` (the starting encoder).
        args: `ContrastiveTraining`.
        training: `tfllm.training.trainer.TrainingConfig`.
        peft_args: `tfllm.peft.options.PeftArgs`.

    Returns:
        `pathlib.Path`: the run folder (`config.yaml`: the resolved
        settings, `--config` repeats the run; `model.keras`, summary,
        adapters).
    """
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
    save_config(run_dir / "config.yaml", data, encoder_args, args, training,
                peft_args)
    encoder = build_sentence_encoder(encoder_args.backbone,
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
                                       encoder_args.backbone))
    best = max(r["val_retrieval_top1_accuracy"] for r in history)
    write_run_summary(run_dir, {"validation_retrieval_top1_accuracy": best},
                      history, encoded, start, peft_summary)
    print(f"run folder: {run_dir} (use --backbone {run_dir})")
    return run_dir
