"""Checks an exported text classifier in a process without tfllm.

Imports only TensorFlow, tensorflow-text (for the tokenizer ops) and the
standard library. Prints the serving signature and, with `--predictions`
(a run folder's `validation_predictions.jsonl`), runs every text through
the serving signature and compares its labels and probabilities with the
in-memory model's.

Usage:
  python scripts/check_classifier_export.py saved_models/banking77/1 \
      [--predictions runs/<run>/validation_predictions.jsonl] [--text "..."]
"""

import argparse
import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved_model")
    parser.add_argument("--predictions")
    parser.add_argument("--text", default="I still have not got my card")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    assert "tfllm" not in sys.modules
    serve = tf.saved_model.load(args.saved_model).signatures["serving_default"]
    pairs = "text_pair" in serve.structured_input_signature[1]
    print("inputs:", serve.structured_input_signature)
    if not pairs:
        out = serve(text=tf.constant([args.text]))
        print(f"{args.text!r}: {out['label'][0].numpy().decode()} "
              f"{float(out['probability'][0]):.4f}")
    if not args.predictions:
        return None
    rows = [json.loads(line) for line in open(args.predictions)]
    labels, probabilities = [], []
    for start in range(0, len(rows), args.batch_size):
        batch = rows[start:start + args.batch_size]
        inputs = {"text": tf.constant([r["text"] for r in batch])}
        if pairs:
            inputs["text_pair"] = tf.constant([r["text_pair"] for r in batch])
        out = serve(**inputs)
        labels += [t.decode() for t in out["label"].numpy()]
        probabilities.append(out["probabilities"].numpy())
    probabilities = np.concatenate(probabilities)
    expected = np.array([r["probabilities"] for r in rows])
    in_memory = [r["predicted"] if isinstance(r["predicted"], str)
                 else None for r in rows]
    same = sum(a == b for a, b in zip(labels, in_memory))
    gold = [r["gold"] for r in rows]
    result = {
        "examples": len(rows),
        "identical_labels": same,
        "max_abs_probability_difference": float(
            np.abs(probabilities - expected).max()),
        "served_accuracy": sum(a == g for a, g in zip(labels, gold))
        / len(rows),
        "in_memory_accuracy": sum(a == g for a, g in zip(in_memory, gold))
        / len(rows),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
