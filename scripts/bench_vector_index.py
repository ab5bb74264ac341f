"""Exact search vs faiss vs ScaNN on an FAQ index's own vectors.

Reads `vectors.npy` of an index folder (`scripts/faq_assistant.py build` or
`evaluate --output`), holds out `--queries` random rows (seeded) as
queries and indexes the rest, then times each method: build seconds,
milliseconds per query at batch 1 (median of one query at a time) and per
query in one batch of all queries, and recall@1 / recall@10 against exact
search (the share of exact top-k ids found).

ScaNN (`pip install scann`) is tried in this process; its package imports
TensorFlow ops built for TensorFlow 2.20, which fail to load beside 2.21,
so the import error is recorded. `--hide-tensorflow` makes `import
tensorflow` fail inside this script (which needs only NumPy) so that ScaNN
falls back to its TensorFlow-free pybind module and can be timed.

Usage:
  python scripts/bench_vector_index.py saved_models/faq_index \
      [--queries 1000] [--output r.json] [--hide-tensorflow]
"""

import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np


def exact(vectors, queries, k):
    scores = queries @ vectors.T
    ids = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, ids, 1), axis=1)
    return np.take_along_axis(ids, order, 1)


def faiss_methods(vectors):
    import faiss

    def flat():
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return lambda q, k: index.search(q, k)[1]

    def hnsw():
        index = faiss.IndexHNSWFlat(vectors.shape[1], 32,
                                    faiss.METRIC_INNER_PRODUCT)
        index.add(vectors)
        index.hnsw.efSearch = 128
        return lambda q, k: index.search(q, k)[1]

    def ivf():
        quantizer = faiss.IndexFlatIP(vectors.shape[1])
        index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], 100,
                                   faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.add(vectors)
        index.nprobe = 10
        return lambda q, k: index.search(q, k)[1]

    return {"faiss_flat_ip": flat, "faiss_hnsw_m32_ef128": hnsw,
            "faiss_ivf100_nprobe10": ivf}


def scann_method(vectors):
    import scann

    def build():
        searcher = (scann.scann_ops_pybind.builder(vectors, 10, "dot_product")
                    .tree(num_leaves=100, num_leaves_to_search=10,
                          training_sample_size=len(vectors))
                    .score_ah(2, anisotropic_quantization_threshold=0.2)
                    .reorder(100).build())
        return lambda q, k: searcher.search_batched(
            q, final_num_neighbors=k)[0]

    return {"scann_tree100_ah2_reorder100": build}


def measure(build, vectors, queries, truth):
    start = time.perf_counter()
    search = build()
    build_seconds = time.perf_counter() - start
    single = []
    found = []
    for row in range(len(queries)):
        tick = time.perf_counter()
        found.append(search(queries[row:row + 1], 10)[0])
        single.append((time.perf_counter() - tick) * 1e3)
    tick = time.perf_counter()
    search(queries, 10)
    batch_ms = (time.perf_counter() - tick) * 1e3 / len(queries)
    found = np.asarray(found)
    return {
        "build_seconds": build_seconds,
        "ms_per_query_batch1_p50": statistics.median(single),
        "ms_per_query_in_batch": batch_ms,
        "recall_at_1": float(np.mean(found[:, 0] == truth[:, 0])),
        "recall_at_10": float(np.mean([len(set(a) & set(b)) / 10
                                       for a, b in zip(found, truth)])),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("index")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output")
    parser.add_argument("--hide-tensorflow", action="store_true")
    args = parser.parse_args(argv)
    if args.hide_tensorflow:
        sys.modules["tensorflow"] = None  # import tensorflow -> ImportError
    data = np.load(pathlib.Path(args.index) / "vectors.npy")
    order = np.random.default_rng(args.seed).permutation(len(data))
    queries = np.ascontiguousarray(data[order[:args.queries]])
    vectors = np.ascontiguousarray(data[order[args.queries:]])
    truth = exact(vectors, queries, 10)
    methods = {"exact_numpy": lambda: (lambda q, k: exact(vectors, q, k))}
    result = {"vectors": list(vectors.shape), "queries": len(queries),
              "methods": {}, "unavailable": {}}
    for name, loader in (("faiss", faiss_methods), ("scann", scann_method)):
        try:
            methods.update(loader(vectors))
        except Exception as e:  # recorded, not hidden: the measured reason
            result["unavailable"][name] = f"{type(e).__name__}: {e}"[:300]
    for name, build in methods.items():
        try:
            result["methods"][name] = measure(build, vectors, queries, truth)
        except Exception as e:
            result["unavailable"][name] = f"{type(e).__name__}: {e}"[:300]
        print(name, json.dumps(result["methods"].get(name)), flush=True)
    if args.output:
        pathlib.Path(args.output).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
