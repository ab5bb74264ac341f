"""Distillation runs (`tfllm train distill`): a fine-tuned teacher run
folder into a smaller student, with scores and batch-1 latency of both.

The student keeps the teacher's tokenizer and head and `student_layers` of
its transformer layers (evenly spaced, last one kept), and is trained by
the shared loop on the teacher's softened logits mixed with the hard labels
(`tfllm.training.distillation`).
"""

import dataclasses
import datetime
import json
import pathlib
import time
from typing import Optional

import keras

from tfllm.config import help_field as _help

__all__ = ["DistillConfig", "batch1_latency", "encode_training",
           "evaluator", "run_distillation"]


@dataclasses.dataclass
class DistillConfig:
    """Flags of `tfllm train distill` (with the `TrainingConfig` flags)."""

    teacher_run: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "fine-tuned teacher run folder (required)",
        "aliases": ["--teacher"]})
    student_layers: int = _help(
        "transformer layers of the student, taken from the teacher", 3)
    temperature: float = _help("softmax temperature of the soft targets",
                               2.0)
    alpha: float = _help(
        "weight of the soft (teacher) loss; 1-alpha: hard labels", 0.5)
    max_train_examples: Optional[int] = dataclasses.field(
        default=None, metadata={"help": "first N training sentences/texts",
                                "aliases": ["--max-train-items"]})
    max_eval_examples: Optional[int] = dataclasses.field(
        default=None, metadata={"help": "first N validation items",
                                "aliases": ["--max-eval-items"]})
    latency_samples: int = _help(
        "validation items timed one at a time, teacher and student", 300)
    output_dir: str = "runs"
    run_name: Optional[str] = _help(
        "run folder name; an existing run is resumed")


def encode_training(model, records):
    """`EncodedWindows` of training records with hard labels."""
    if hasattr(model, "predict_word_logits"):
        from tfllm.data.conll import encode_tags
        from tfllm.data.pipeline import encode_token_classification

        return encode_token_classification(
            model.preprocessor, [s.words for s in records],
            encode_tags(records, model.id2label))
    from tfllm.data.labels import label_ids
    from tfllm.data.pipeline import encode_text_classification

    return encode_text_classification(
        model.preprocessor, [e.text for e in records],
        label_ids(records, model.id2label))


def evaluator(model_kind_token, validation):
    """`(evaluate_fn, monitor)` for `train`: entity F1 (NER) or accuracy."""
    if model_kind_token:
        from tfllm.evaluation.ner_evaluator import evaluate_ner

        def evaluate(m):
            result = evaluate_ner(m, [s.words for s in validation],
                                  [s.tags for s in validation])
            return {"entity_f1": result["f1"]}, {
                "entity_strict": result["entity_strict"]}
        return evaluate, "entity_f1"
    from tfllm.evaluation.classification_evaluator import evaluate_classifier

    def evaluate(m):
        result = evaluate_classifier(m, validation)
        return {"accuracy": result["accuracy"]}, {}
    return evaluate, "accuracy"


def batch1_latency(model, items):
    """p50 and p95 milliseconds of one-item calls (raw text in)."""
    import tensorflow as tf

    from tfllm.export.verify import percentiles
    from tfllm.export.verify import time_calls

    if hasattr(model, "predict_word_logits"):
        from tfllm.evaluation.ner_evaluator import word_logits_function

        function = word_logits_function(model)

        def call(item):
            return function(tf.ragged.constant(
                [item], dtype=tf.string, row_splits_dtype=tf.int64))
    else:
        from tfllm.evaluation.classification_evaluator import (
            logits_function,
        )

        function = logits_function(model)

        def call(item):
            return function(tf.constant([item], tf.string))
    seconds, _ = time_calls(call, items)
    return percentiles(seconds)


def run_distillation(config, training, log=print):
    """Distils `config.teacher_run` into a student of `student_layers`.

    The run folder gets `config.json` (with `teacher_run`, so exports find
    the teacher's data), the training loop's files, `model.keras` and
    `distillation.json`: teacher and student scores, parameters and batch-1
    latency on validation items.

    Args:
        config: `DistillConfig`.
        training: `TrainingConfig`.
        log: callable taking one str. Default `print`.

    Returns:
        `(run_dir, summary)`: the run folder and the `distillation.json`
        dict.

    Raises:
        UserInputError: no `teacher_run`.
    """
    # load_run_data is moving to tfllm.runs; its current home first.
    from tfllm.runs.run_data import load_run_data
    from tfllm.data.errors import UserInputError
    from tfllm.runs.run_config import write_run_config
    from tfllm.training.distillation import DistillationLoss
    from tfllm.training.distillation import parameter_count
    from tfllm.training.distillation import student_from_teacher
    from tfllm.training.distillation import with_teacher_targets
    from tfllm.training.trainer import train

    start = time.perf_counter()
    if config.teacher_run is None:
        raise UserInputError("give --teacher-run RUN_FOLDER")
    keras.utils.set_random_seed(training.seed)
    teacher, data = load_run_data(config.teacher_run)
    token_task = hasattr(teacher, "predict_word_logits")
    teacher_head = getattr(teacher, "head", "softmax")
    if teacher_head != "softmax" and token_task:
        raise UserInputError(
            f"--teacher-run {config.teacher_run}: the teacher has a "
            f"{teacher_head} head (crf is the default of `tfllm train ner`); "
            "distillation matches the teacher's per-token softmax, so train "
            "the teacher with --head softmax")
    run_name = config.run_name or datetime.datetime.now().strftime(
        f"student{config.student_layers}-%Y%m%d-%H%M%S")
    run_dir = pathlib.Path(config.output_dir) / run_name
    write_run_config(run_dir, config, training, json_settings=(config,))

    if config.max_eval_examples:
        data["validation"] = data["validation"][:config.max_eval_examples]
    records = data["train"][:config.max_train_examples] \
        if config.max_train_examples else data["train"]
    encoded = encode_training(teacher, records)
    seconds = time.perf_counter()
    encoded = with_teacher_targets(teacher, encoded)
    log(f"teacher logits for {encoded.num_windows} training sequences in "
        f"{time.perf_counter() - seconds:.0f} s")
    student = student_from_teacher(teacher, config.student_layers)
    log(f"student: {config.student_layers} of "
        f"{len(teacher.backbone.transformer_layers)} layers, "
        f"{parameter_count(student):,} of {parameter_count(teacher):,} "
        "weights")
    evaluate, monitor = evaluator(token_task, data["validation"])
    loss = DistillationLoss(config.temperature, config.alpha,
                            reduction="sum")
    student, history = train(student, encoded, training, run_dir, evaluate,
                             monitor, loss)
    student.save(run_dir / "model.keras")

    teacher_score = evaluate(teacher)[0][monitor]
    student_score = evaluate(student)[0][monitor]
    validation = data["validation"]
    items = [s.words for s in validation] if token_task else \
        [e.text for e in validation]
    items = items[:config.latency_samples]
    teacher_ms = batch1_latency(teacher, items)
    student_ms = batch1_latency(student, items)
    summary = {
        "monitor": monitor,
        "teacher": {"score": teacher_score,
                    "parameters": parameter_count(teacher),
                    "layers": len(teacher.backbone.transformer_layers),
                    "batch1_p50_ms": teacher_ms[0],
                    "batch1_p95_ms": teacher_ms[1]},
        "student": {"score": student_score,
                    "parameters": parameter_count(student),
                    "layers": config.student_layers,
                    "batch1_p50_ms": student_ms[0],
                    "batch1_p95_ms": student_ms[1]},
        "score_gap_points": 100.0 * (teacher_score - student_score),
        "speedup_p50": teacher_ms[0] / student_ms[0],
        "epochs": training.epochs,
        "training_sequences": encoded.num_windows,
        "wall_seconds": time.perf_counter() - start,
        "latency_items": len(items),
        "history": [{k: v for k, v in r.items()
                     if isinstance(v, (int, float))} for r in history],
    }
    (run_dir / "distillation.json").write_text(
        json.dumps(summary, indent=2) + "\n")
    return run_dir, summary
