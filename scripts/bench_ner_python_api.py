"""The main job through the Python API: the same default run as
`python scripts/train_ner.py`, written as a notebook user would.

Trains MiniLM with the defaults (CRF head, head learning rate 1e-3, 5
epochs, seed 42) on CoNLL-2003 train.txt, scores valid.txt and writes
`<run_dir>/python_api_result.json` with the validation entity F1 (seqeval
strict IOB2), so it can be set beside the script's `summary.json`.

Usage: python scripts/bench_ner_python_api.py [--run-dir runs/conll-python-api]
       [--max-train-examples N] [--max-eval-examples N] [--epochs N]
"""

import argparse
import json
import pathlib
import time

import tfllm.cli  # noqa: F401  (quiet TensorFlow's C++ log lines first)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/conll-python-api")
    parser.add_argument("--max-train-examples", type=int)
    parser.add_argument("--max-eval-examples", type=int)
    parser.add_argument("--epochs", type=int)
    args = parser.parse_args()

    import tfllm

    start = time.perf_counter()
    data = tfllm.load_ner_dataset(
        "conll2003", max_train_examples=args.max_train_examples,
        max_eval_examples=args.max_eval_examples)
    model = tfllm.TokenClassifier.from_pretrained(
        "minilm", labels=data.labels, seed=42)
    model.fit(data.train, validation_data=data.validation,
              epochs=args.epochs, run_dir=args.run_dir)
    report = model.evaluate(data.validation)
    result = {
        "validation_entity_f1_strict": report["f1"],
        "validation_sentences": len(data.validation),
        "wall_seconds": time.perf_counter() - start,
    }
    path = pathlib.Path(args.run_dir) / "python_api_result.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
