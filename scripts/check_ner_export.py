"""Checks an exported NER SavedModel in a process without tfllm.

Imports only TensorFlow, tensorflow-text (for the tokenizer ops), seqeval
(for scoring) and the standard library. Prints the serving signature, tags
one sentence, and with `--predictions` (a run folder's
`validation_predictions.json`) runs every sentence through the serving
signature and compares its tags and strict-IOB2 entity F1 with the
in-memory model's.

Usage:
  python scripts/check_ner_export.py saved_models/ner/1 \
      [--predictions runs/<run>/validation_predictions.json] [--text "..."]
"""

import argparse
import json
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved_model")
    parser.add_argument("--predictions")
    parser.add_argument(
        "--text", default="EU rejects German call to boycott British lamb .")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    assert "tfllm" not in sys.modules
    serve = tf.saved_model.load(args.saved_model).signatures["serving_default"]
    print("inputs:", serve.structured_input_signature)
    out = serve(text=tf.constant([args.text]))
    for i in range(int(out["num_entities"][0])):
        print(f"{out['entity_texts'][0, i].numpy().decode()}="
              f"{out['entity_types'][0, i].numpy().decode()} "
              f"[{int(out['entity_starts'][0, i])}, "
              f"{int(out['entity_ends'][0, i])})")
    if not args.predictions:
        return
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    data = json.load(open(args.predictions))
    served = []
    for start in range(0, len(data["words"]), args.batch_size):
        batch = [" ".join(w) for w in data["words"][start:start + args.batch_size]]
        out = serve(text=tf.constant(batch))
        for row, n in enumerate(out["num_words"].numpy()):
            served.append([t.decode() for t in out["tags"][row, :n].numpy()])
    same = sum(a == b for a, b in zip(served, data["predicted"]))
    f1 = {}
    for name, tags in (("served", served), ("in-memory", data["predicted"])):
        f1[name] = f1_score(data["gold"], tags, mode="strict", scheme=IOB2)
        print(f"{name} entity F1 (seqeval strict IOB2): {f1[name]:.4f}")
    print(f"sentences with identical tags: {same}/{len(served)}")
    print(json.dumps({"served_f1": f1["served"],
                      "in_memory_f1": f1["in-memory"],
                      "identical_sentences": same, "sentences": len(served)}))


if __name__ == "__main__":
    main()
