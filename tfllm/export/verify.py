"""Runs every exported artifact on a validation split and tabulates it.

One row per artifact: format, size on disk, latency per sentence at batch 1
(p50/p95, milliseconds), throughput at batch 32 (sentences/s) and the score
(entity F1 for NER, accuracy for classification) next to the Keras model's.

- Keras: the in-memory model through `evaluate_ner` / `evaluate_classifier`
  (raw text in, tokenization included).
- SavedModel: the raw-text `serving_default` loaded with
  `tf.saved_model.load` (raw text in, tokenization included), as TF Serving
  runs it.
- TFLite: each `.tflite` flavour with the LiteRT interpreter
  (`ai-edge-litert`). Its latency and throughput are for the model only
  (token ids in); tokenization runs outside the `.tflite` file, so it is
  timed once separately (`tokenization` row).
"""

import pathlib
import time

import numpy as np
import tensorflow as tf

from tfllm.export.litert_bundle import TOKEN_TASK
from tfllm.export.litert_bundle import LiteRTTask
from tfllm.export.litert_bundle import task_kind


def folder_bytes(path):
    """Total size of a file or of every file under a folder."""
    path = pathlib.Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def percentiles(seconds):
    """`(p50, p95)` in milliseconds of a list of durations in seconds."""
    values = np.asarray(seconds) * 1000.0
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def _batches(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def _score(kind, gold, predicted):
    if kind == TOKEN_TASK:
        from tfllm.evaluation.ner_metrics import entity_report

        return entity_report(gold, predicted, mode="strict")[
            "micro avg"]["f1-score"]
    return float(np.mean([g == p for g, p in zip(gold, predicted)]))


def time_calls(function, batches, warmup=3):
    """`(seconds per call, outputs)` of `function` on each batch."""
    for batch in batches[:warmup]:
        function(batch)
    seconds, outputs = [], []
    for batch in batches:
        start = time.perf_counter()
        outputs.append(function(batch))
        seconds.append(time.perf_counter() - start)
    return seconds, outputs


def _row(name, size, latency_seconds, throughput_seconds, count, score,
         reference):
    p50, p95 = percentiles(latency_seconds)
    return {
        "format": name,
        "size_mib": size / 2**20 if size is not None else None,
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
        "throughput_per_s": count / sum(throughput_seconds),
        "score": score,
        "delta_points": None if reference is None else
        100.0 * (score - reference),
    }


def keras_row(model, items, gold, latency_items):
    """The in-memory Keras model (its `tf.function` evaluation path)."""
    kind = task_kind(model)
    if kind == TOKEN_TASK:
        from tfllm.evaluation.ner_evaluator import word_labels_function

        function = word_labels_function(model)  # argmax or Viterbi (CRF)

        def predict(batch):
            ids = function(tf.ragged.constant(
                batch, dtype=tf.string, row_splits_dtype=tf.int64))
            return [[model.id2label[i] for i in row]
                    for row in ids.to_list()]
    else:
        from tfllm.evaluation.classification_evaluator import (
            logits_function,
        )

        function = logits_function(model)

        def predict(batch):
            logits = function(tf.constant(batch, tf.string), None) \
                if _takes_pair(function) else function(
                    tf.constant(batch, tf.string))
            return [model.id2label[i] for i in
                    np.asarray(logits).argmax(-1)]

    latency, _ = time_calls(predict, [[x] for x in latency_items])
    seconds, outputs = time_calls(predict, _batches(items, 32))
    predicted = [p for batch in outputs for p in batch]
    return _row("Keras (in memory, raw text)", None, latency, seconds,
                len(items), _score(kind, gold, predicted), None), predicted


def _takes_pair(function):
    try:
        return len(function.input_signature) == 2
    except (AttributeError, TypeError):
        return False


def saved_model_row(path, kind, items, gold, latency_items, reference,
                    name="SavedModel float32 (raw text)"):
    """The raw-text TF Serving SavedModel, loaded as a server would."""
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]

    def to_text(batch):
        if kind == TOKEN_TASK:
            return tf.constant([" ".join(words) for words in batch])
        return tf.constant(batch)

    def predict(batch):
        out = serve(text=to_text(batch))
        if kind == TOKEN_TASK:
            tags = out["tags"].numpy()
            counts = out["num_words"].numpy()
            return [[t.decode() for t in row[:n]]
                    for row, n in zip(tags, counts)]
        return [t.decode() for t in out["label"].numpy()]

    latency, _ = time_calls(predict, [[x] for x in latency_items])
    seconds, outputs = time_calls(predict, _batches(items, 32))
    predicted = [p for batch in outputs for p in batch]
    return _row(name, folder_bytes(path), latency, seconds, len(items),
                _score(kind, gold, predicted), reference)


def litert_row(folder, flavour, kind, items, gold, latency_items,
               reference, num_threads=None):
    """One `.tflite` flavour; timings on pre-tokenized inputs."""
    task = LiteRTTask(folder, flavour, num_threads)

    def encoded(batches):
        return [task.encode(batch) for batch in batches]

    latency_inputs = encoded([[x] for x in latency_items])
    batches = encoded(_batches(items, 32))
    latency, _ = time_calls(lambda e: task.run(e[0]), latency_inputs)
    seconds, outputs = time_calls(lambda e: task.run(e[0]), batches)
    predicted = []
    for (_, encoding), logits in zip(batches, outputs):
        if kind == TOKEN_TASK:  # argmax, Viterbi (crf.json) or spans
            predicted += task.decode(task.word_logits(encoding, logits))
        else:
            predicted += task.decode(logits)
    path = pathlib.Path(folder) / f"{flavour}.tflite"
    return _row(f"TFLite {flavour} (token ids)", folder_bytes(path),
                latency, seconds, len(items), _score(kind, gold, predicted),
                reference)


def tokenization_row(folder, flavour, items, latency_items):
    """Time of the bundle's tokenizer helper alone (text to token ids)."""
    task = LiteRTTask(folder, flavour)
    latency, _ = time_calls(task.encode, [[x] for x in latency_items])
    seconds, _ = time_calls(task.encode, _batches(items, 32))
    row = _row("tokenization for TFLite (tfllm preprocessor, tf.function)",
               None, latency, seconds, len(items), float("nan"), None)
    row["score"] = None
    return row


def verify_exports(model, items, gold, saved_model=None, litert=None,
                   flavours=(), keras_int8=None, latency_samples=200,
                   num_threads=None):
    """Scores and times every artifact on a validation split.

    Args:
        model: the Keras task model (the reference).
        items: list of word lists (NER) or texts, the validation split.
        gold: list of gold tag lists (NER) or label names.
        saved_model: path of a raw-text SavedModel version folder or None.
        litert: path of a LiteRT bundle or None.
        flavours: `.tflite` flavours of the bundle to run.
        keras_int8: path of the Keras int8 SavedModel version or None.
        latency_samples: int. First items timed one at a time (batch 1).
        num_threads: int or None. LiteRT interpreter threads.

    Returns:
        list of row dicts: `format`, `size_mib`, `latency_p50_ms`,
        `latency_p95_ms`, `throughput_per_s` (batch 32), `score`,
        `delta_points` (100 x difference to the Keras score).
    """
    kind = task_kind(model)
    latency_items = items[:latency_samples]
    rows = []
    first, _ = keras_row(model, items, gold, latency_items)
    rows.append(first)
    reference = first["score"]
    if saved_model is not None:
        rows.append(saved_model_row(saved_model, kind, items, gold,
                                    latency_items, reference))
    if keras_int8 is not None:
        rows.append(saved_model_row(
            keras_int8, kind, items, gold, latency_items, reference,
            "SavedModel Keras quantize('int8') (raw text)"))
    for flavour in flavours:
        rows.append(litert_row(litert, flavour, kind, items, gold,
                               latency_items, reference, num_threads))
    if litert is not None and flavours:
        rows.append(tokenization_row(litert, flavours[0], items,
                                     latency_items))
    return rows


def format_table(rows, score_name):
    """A Markdown table of `verify_exports` rows."""
    lines = [
        f"| format | size (MiB) | batch-1 p50 (ms) | batch-1 p95 (ms) | "
        f"batch-32 throughput (/s) | {score_name} | Δ vs Keras (points) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = "" if r["size_mib"] is None else f"{r['size_mib']:.1f}"
        score = "" if r["score"] is None else f"{r['score']:.4f}"
        delta = "" if r["delta_points"] is None else \
            f"{r['delta_points']:+.2f}"
        lines.append(
            f"| {r['format']} | {size} | {r['latency_p50_ms']:.2f} | "
            f"{r['latency_p95_ms']:.2f} | {r['throughput_per_s']:.1f} | "
            f"{score} | {delta} |")
    return "\n".join(lines) + "\n"
