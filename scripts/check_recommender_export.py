"""Checks a recommender SavedModel against the in-memory model, for every
test user, in a process without tfllm.

Usage:
  python scripts/check_recommender_export.py --run runs/ml100k \
      [--export-dir saved_models/recommender] [--k 10]

The first process (with tfllm) loads the run folder, exports it, and writes
each test user's query (their training items and validation item as raw
ids, oldest first) with the in-memory model's top-k (`Recommender.
recommend(history=...)`: the same unknown-user query the SavedModel
serves). A second process that imports only TensorFlow and tensorflow-text
(`--serve`) loads the SavedModel with `tf.saved_model.load`, runs every
query through `serving_default` and reports how many top-k lists are
identical, in order, and how many of the others hold the same items with
two of them swapped whose in-memory scores are equal to float32 rounding
(relative 1e-5: the served graph multiplies a batch of users at once and
may round the last bit differently). Prints one JSON object.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile


def serve(export, requests_file, batch_size=256):
    """The tfllm-free side: returns the JSON report."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (tokenizer ops of a text model)

    assert not any(m == "tfllm" or m.startswith("tfllm.")
                   for m in sys.modules), "tfllm was imported"
    signature = tf.saved_model.load(export).signatures["serving_default"]
    requests = json.loads(pathlib.Path(requests_file).read_text())
    same = ties = 0
    differ = []
    for start in range(0, len(requests), batch_size):
        batch = requests[start:start + batch_size]
        width = max(len(r["history"]) for r in batch)
        ids = [[""] * (width - len(r["history"])) + r["history"]
               for r in batch]
        out = signature(item_ids=tf.constant(ids))
        for row, request in enumerate(batch):
            served = [x.decode() for x in out["item_ids"].numpy()[row]]
            served = served[:len(request["expected"])]
            if served == request["expected"]:
                same += 1
                continue
            # The same items, in an order that differs only between items
            # whose in-memory scores are within float32 rounding?
            scores = dict(zip(request["expected"], request["scores"]))
            gap = None
            if set(served) == set(request["expected"]):
                gap = max(abs(scores[a] - scores[b]) for a, b in
                          zip(served, request["expected"]) if a != b)
                ties += gap <= 1e-5 * max(1.0, abs(max(scores.values())))
            if len(differ) < 5:
                differ.append({"user": request["user"], "served": served,
                               "expected": request["expected"],
                               "largest_score_gap": gap})
    return {"users": len(requests), "identical_top_k": same,
            "share": same / max(len(requests), 1),
            "same_items_swapped_within_float_rounding": ties,
            "examples": differ}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a `tfllm recommend train` run folder")
    parser.add_argument("--export-dir", default=None)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256,
                        help="requests per call of the SavedModel")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--requests", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        print(json.dumps(serve(args.serve, args.requests,
                               args.batch_size)))
        return
    from tfllm.runs.recommend import load_run

    rec, data, split = load_run(args.run)
    with tempfile.TemporaryDirectory(prefix="tfllm-rec-check-") as work:
        export_base = args.export_dir or str(pathlib.Path(work) / "export")
        path = rec.export(export_base, k=args.k)
        requests = []
        for user in split.eval_users("test"):
            history = [data.item_ids[i - 1] for i in
                       split.history(int(user), "test")]
            top = rec.recommend(history=history, k=args.k)
            requests.append({"user": data.user_ids[user],
                             "history": history,
                             "expected": [r["item_id"] for r in top],
                             "scores": [r["score"] for r in top]})
        requests_file = pathlib.Path(work) / "requests.json"
        requests_file.write_text(json.dumps(requests))
        # A fresh interpreter that never imports tfllm.
        result = subprocess.run(
            [sys.executable, str(pathlib.Path(__file__).resolve()),
             "--serve", str(path), "--requests", str(requests_file),
             "--batch-size", str(args.batch_size)],
            check=True, capture_output=True, text=True, cwd=work)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report.update({"run": args.run, "export": str(path), "k": args.k,
                   "batch_size": args.batch_size})
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
