"""Batch-1 latency of an exported raw-text SavedModel, as TF Serving runs it.

Imports only TensorFlow, tensorflow-text (for the tokenizer ops) and the
standard library, like `tensorflow_model_server`. Sets TensorFlow's thread
pools first, as TF Serving's `--tensorflow_intra_op_parallelism` and
`--tensorflow_inter_op_parallelism` flags do, then calls `serving_default`
on one text at a time and prints p50/p95 in milliseconds (tokenization and
decoding included: the whole signature). Network and request (de)coding
of a real server are not included.

Usage:
  python scripts/bench_serving_latency.py saved_models/ner/1 --texts texts.txt \
      [--intra-op-threads 1 --inter-op-threads 1] [--samples 300] [--output r.json]

`--texts` is a UTF-8 file with one text per line (a `.jsonl` file is read
by its `text` field instead).
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time


def read_texts(path, limit):
    """The first `limit` non-empty texts of a line or `.jsonl` file.

    Raises:
        SystemExit: the file is missing, not UTF-8, or holds no text.
    """
    path = pathlib.Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SystemExit(f"error: {path}: no such file") from None
    except UnicodeDecodeError as e:
        raise SystemExit(f"error: {path}: not UTF-8 ({e})") from None
    texts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            try:
                line = json.loads(line)["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise SystemExit(f"error: {path}:{number}: expected a JSON "
                                 "object with a 'text' field") from None
        texts.append(line)
        if len(texts) == limit:
            break
    if not texts:
        raise SystemExit(f"error: {path}: no texts")
    return texts


def percentile(values, q):
    """The `q`-th percentile (0-100) by linear interpolation, as numpy's."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(saved_model, texts, warmup=10):
    """Milliseconds per `serving_default(text=[t])` call, for each text."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    serve = tf.saved_model.load(str(saved_model)).signatures[
        "serving_default"]
    for text in texts[:warmup]:
        serve(text=tf.constant([text]))
    milliseconds = []
    for text in texts:
        start = time.perf_counter()
        outputs = serve(text=tf.constant([text]))
        for value in outputs.values():
            value.numpy()
        milliseconds.append((time.perf_counter() - start) * 1000.0)
    return milliseconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved_model")
    parser.add_argument("--texts", required=True)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--intra-op-threads", type=int, default=0,
                        help="0: TensorFlow's default (all cores)")
    parser.add_argument("--inter-op-threads", type=int, default=0,
                        help="0: TensorFlow's default")
    parser.add_argument("--output", help="also write the result as JSON")
    args = parser.parse_args(argv)
    texts = read_texts(args.texts, args.samples)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(
        args.intra_op_threads)
    tf.config.threading.set_inter_op_parallelism_threads(
        args.inter_op_threads)
    assert "tfllm" not in sys.modules
    milliseconds = measure(args.saved_model, texts)
    result = {
        "saved_model": str(args.saved_model),
        "texts": len(texts),
        "intra_op_threads": args.intra_op_threads,
        "inter_op_threads": args.inter_op_threads,
        "p50_ms": round(percentile(milliseconds, 50), 3),
        "p95_ms": round(percentile(milliseconds, 95), 3),
        "mean_ms": round(statistics.fmean(milliseconds), 3),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "tensorflow": tf.__version__,
    }
    print(json.dumps(result))
    if args.output:
        pathlib.Path(args.output).write_text(json.dumps(result, indent=2)
                                             + "\n")
    return result


if __name__ == "__main__":
    main()
