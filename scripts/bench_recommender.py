"""Benchmark: the recommender on MovieLens-100K against RecBole.

Usage: python scripts/bench_recommender.py [--epochs 40] [--skip-cold]
           [--peer-python .venv-recbole/bin/python] [--output FILE]

Every model is trained on the same leave-last-out split (per user, the last
interaction by time is test, the one before validation) and ranked against
the full catalogue with seen items excluded (tfllm.recommendation.metrics):
Recall@10 (= HR@10), NDCG@10, Recall@50 and coverage@10 on the test
users. Our models: most-popular, the id-only two-tower (user-id and item-id
embeddings, logQ-corrected in-batch softmax: TensorFlow Recommenders'
retrieval model), the text two-tower (MiniLM item tower + item ids,
attention user tower) and the text two-tower followed by the gradient-
boosted re-ranker over its top 100 (fit on the validation targets). The
cold-start figure trains the text two-tower with a seeded 10% of the items
held out of training and ranks each user's interactions with them among
the held-out items (random ranking: 10 / number of held-out items); the
most-popular and id-only models are scored the same way (they have nothing
to tell held-out items apart, so they should score about the random value).
Equal scores are ordered at random with a fixed seed per user (the
metric's default).

`--peer-python` runs scripts/recbole_peer.py with that interpreter (an
environment with torch and recbole, see that script) on the identical split
and prints both sides in one table. Figures go to --output as JSON.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

from tfllm.utils.machine import machine_description

METRICS = ("recall@10", "ndcg@10", "recall@50", "coverage@10")


def _row(name, scores, seconds_per_epoch=None, epochs=None, note=""):
    return {"model": name, **{m: scores.get(m) for m in METRICS},
            "seconds_per_epoch": seconds_per_epoch, "epochs": epochs,
            "note": note}


def _fit(rec, split, epochs, run_dir, **training):
    start = time.perf_counter()
    history = rec.fit(split, run_dir=run_dir, epochs=epochs, **training)
    seconds = [r["epoch_seconds"] for r in history if "epoch_seconds" in r]
    per_epoch = sum(seconds) / len(seconds) if seconds else None
    return per_epoch, len(history), time.perf_counter() - start


def run_ours(args, work):
    import keras

    from tfllm.apps.recommender import Recommender
    from tfllm.recommendation.ranking import Reranker
    from tfllm.recommendation.readers import load_recommendation_dataset
    from tfllm.recommendation.split import cold_start_split
    from tfllm.recommendation.split import leave_last_out_split

    data = load_recommendation_dataset("movielens-100k", args.data_dir)
    split = leave_last_out_split(data)
    rows = {}
    pop = Recommender.from_dataset(data, model="popularity")
    pop.fit(split)
    rows["popularity"] = _row("tfllm most-popular",
                              pop.evaluate(split, "test"))
    keras.utils.set_random_seed(args.seed)
    ids = Recommender.from_dataset(data, model="id-two-tower",
                                   embedding_dim=args.embedding_dim)
    per_epoch, epochs, _ = _fit(ids, split, args.id_epochs, work / "id",
                                batch_size=args.id_batch_size,
                                learning_rate=args.id_learning_rate,
                                seed=args.seed)
    rows["id-two-tower"] = _row("tfllm id-only two-tower (in-batch, logQ)",
                                ids.evaluate(split, "test"), per_epoch,
                                epochs)
    keras.utils.set_random_seed(args.seed)
    text = Recommender.from_dataset(data, model="text-two-tower",
                                    embedding_dim=args.embedding_dim)
    per_epoch, epochs, _ = _fit(text, split, args.epochs, work / "text",
                                seed=args.seed)
    rows["text-two-tower"] = _row("tfllm text two-tower (MiniLM + ids)",
                                  text.evaluate(split, "test"), per_epoch,
                                  epochs)
    start = time.perf_counter()
    reranker = Reranker(data, top_n=100,
                        item_features=text.model.item_text_features.numpy(),
                        seed=args.seed)
    reranker.fit(text.score_fn, split, "valid")
    from tfllm.recommendation.metrics import evaluate_scores

    reranked = evaluate_scores(reranker.score_fn(text.score_fn), split,
                               "test")
    rows["text-two-tower+rerank"] = _row(
        "tfllm text two-tower + re-ranker (top 100)", reranked,
        note=f"re-ranker fit + evaluation "
             f"{time.perf_counter() - start:.0f} s")
    cold = {}
    if not args.skip_cold:
        cold_split = cold_start_split(data, 0.1, args.seed)
        keras.utils.set_random_seed(args.seed)
        text_cold = Recommender.from_dataset(
            data, model="text-two-tower", embedding_dim=args.embedding_dim)
        _fit(text_cold, cold_split, args.epochs, work / "text-cold",
             seed=args.seed)
        cold = text_cold.evaluate(cold_split, "cold")
        rows["text-two-tower"]["cold_recall@10"] = cold["recall@10"]
        rows["text-two-tower"]["cold_random_recall@10"] = \
            cold["random_recall@10"]
        # The id-only models have nothing to tell held-out items apart:
        # they should score about the random value.
        pop.fit(cold_split)
        rows["popularity"]["cold_recall@10"] = pop.evaluate(
            cold_split, "cold")["recall@10"]
        keras.utils.set_random_seed(args.seed)
        ids_cold = Recommender.from_dataset(
            data, model="id-two-tower", embedding_dim=args.embedding_dim)
        _fit(ids_cold, cold_split, args.id_epochs, work / "id-cold",
             batch_size=args.id_batch_size,
             learning_rate=args.id_learning_rate, seed=args.seed)
        rows["id-two-tower"]["cold_recall@10"] = ids_cold.evaluate(
            cold_split, "cold")["recall@10"]
    return rows, cold


def run_peer(args, work):
    output = work / "recbole.json"
    command = [args.peer_python, str(pathlib.Path(__file__).parent
                                     / "recbole_peer.py"),
               "--output", str(output)]
    print("peer:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return json.loads(output.read_text())


def print_table(rows):
    header = ("model", *METRICS, "s/epoch", "cold R@10")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [row["model"]] + [
            "" if row.get(m) is None else f"{row[m]:.4f}" for m in METRICS]
        cells.append("" if row.get("seconds_per_epoch") is None
                     else f"{row['seconds_per_epoch']:.1f}")
        cells.append("" if row.get("cold_recall@10") is None
                     else f"{row['cold_recall@10']:.4f}")
        print("| " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--id-epochs", type=int, default=30)
    parser.add_argument("--id-batch-size", type=int, default=1024)
    parser.add_argument("--id-learning-rate", type=float, default=1e-2)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--peer-python", default=None,
                        help="python of an environment with recbole")
    parser.add_argument("--peer-json", default=None,
                        help="reuse the JSON of an earlier peer run")
    parser.add_argument("--ours-json", default=None,
                        help="reuse our rows from an earlier --output")
    parser.add_argument("--output", default="bench_recommender.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tfllm-bench-rec-") as work:
        work = pathlib.Path(work)
        if args.ours_json:
            earlier = json.loads(pathlib.Path(args.ours_json).read_text())
            ours = {r["model"]: r for r in earlier["rows"]
                    if r["model"].startswith("tfllm")}
            cold = earlier["cold_start"]
        else:
            ours, cold = run_ours(args, work)
        peer = None
        if args.peer_json:
            peer = json.loads(pathlib.Path(args.peer_json).read_text())
        elif args.peer_python:
            peer = run_peer(args, work)
    rows = list(ours.values())
    for name, result in ((peer or {}).get("models") or {}).items():
        rows.append(_row(f"RecBole {name}", result,
                         result.get("seconds_per_epoch"),
                         result.get("epochs_trained")))
    print_table(rows)
    report = {"split": "MovieLens-100K leave-last-out, test users",
              "rows": rows, "cold_start": cold, "peer": peer,
              "machine": machine_description(),
              "date": time.strftime("%Y-%m-%d"),
              "wall_seconds": time.perf_counter() - start,
              "command": " ".join(["python", *sys.argv])}
    pathlib.Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
