"""An inner-product vector index: exact search, or faiss HNSW when large.

Embeddings from `tfllm.retrieval.embedding` are unit length, so the inner
product is the cosine similarity. Below `EXACT_LIMIT` vectors the index
searches exactly (one matrix product and a partial sort, NumPy): on
Banking77's ~9k x 384 FAQ it is faster than faiss' HNSW graph and never
misses (measured in BENCHMARKS.md, "FAQ assistant: vector index"). Above
it, faiss' `IndexHNSWFlat` (Malkov & Yashunin 2018, "Efficient and robust
approximate nearest neighbor search using Hierarchical Navigable Small World
graphs") answers approximately in sub-linear time. ScaNN was measured too
but cannot be imported beside TensorFlow 2.21 (its TF ops are built for
TensorFlow 2.20).

A saved index is a folder (written atomically, `tfllm.utils.atomic`):
`index.json` (encoder name, vocabulary SHA-256, count, dimension, backend),
`vectors.npy`, `payload.jsonl` (one JSON object per vector) and, for
faiss, `faiss.index`. `VectorIndex.load` refuses an index built by another
encoder or vocabulary (`StaleIndexError`).
"""

import json
import pathlib

import numpy as np

from tfllm.data.errors import UserInputError
from tfllm.utils.atomic import atomic_path

# Exact search up to this many vectors, faiss HNSW above (backend "auto").
EXACT_LIMIT = 100_000
BACKENDS = ("auto", "exact", "faiss_hnsw")
FORMAT_VERSION = 1


class StaleIndexError(UserInputError):
    """A saved index was built by another encoder or vocabulary.

    A `UserInputError` (so a `ValueError`): command-line tools print it as
    one line.
    """


def exact_search(vectors, queries, k):
    """Top-k inner products by brute force.

    Args:
        vectors: float32 `[num_vectors, dim]`.
        queries: float32 `[num_queries, dim]`.
        k: int, at most `num_vectors`.

    Returns:
        `(scores, ids)`: float32 and int64 `[num_queries, k]`, best first
        (ties broken by the lower id).
    """
    scores = queries @ vectors.T  # (Q, N)
    k = min(k, vectors.shape[0])
    if k < vectors.shape[0]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(vectors.shape[0]), (len(queries), 1))
    top = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -top), axis=1)
    ids = np.take_along_axis(part, order, axis=1)
    return np.take_along_axis(scores, ids, axis=1), ids.astype(np.int64)


class VectorIndex:
    """Unit-length vectors with a payload each, searched by inner product.

    Args:
        vectors: float array `[num_vectors, dim]` (unit length for cosine).
        model_name: str. The encoder that made them (a backbone name or a
            run folder).
        vocabulary_hash: str. `tfllm.retrieval.embedding.
            vocabulary_fingerprint` of the encoder's tokenizer.
        payload: list of JSON-serialisable objects, one per vector (e.g.
            `{"question", "intent", "answer"}`), or None.
        backend: str. `"auto"` (exact up to `exact_limit` vectors, faiss
            HNSW above), `"exact"` or `"faiss_hnsw"`.
        exact_limit: int. See `backend`.
        hnsw_neighbors: int. HNSW graph degree `M` (faiss). Default 32.
        hnsw_ef_search: int. HNSW candidate list at query time. Default 128.

    Raises:
        ValueError: vectors not 2-D, payload of another length, unknown
            backend.
        ImportError: faiss is needed and not installed (the message says
            how to install it).
    """

    def __init__(self, vectors, model_name, vocabulary_hash, payload=None,
                 backend="auto", exact_limit=EXACT_LIMIT, hnsw_neighbors=32,
                 hnsw_ef_search=128, _faiss_index=None):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or not len(vectors):
            raise ValueError(f"vectors must be [num_vectors, dim] with at "
                             f"least one row, got shape {vectors.shape}")
        if payload is not None and len(payload) != len(vectors):
            raise ValueError(f"{len(payload)} payload items for "
                             f"{len(vectors)} vectors")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}: "
                             f"{backend!r}")
        if backend == "auto":
            backend = "exact" if len(vectors) <= exact_limit else "faiss_hnsw"
        self.vectors = vectors
        self.model_name = str(model_name)
        self.vocabulary_hash = str(vocabulary_hash)
        self.payload = list(payload) if payload is not None else None
        self.backend = backend
        self.hnsw_neighbors = int(hnsw_neighbors)
        self.hnsw_ef_search = int(hnsw_ef_search)
        self._faiss = _faiss_index
        if backend == "faiss_hnsw" and self._faiss is None:
            self._faiss = self._build_hnsw()

    def __len__(self):
        return len(self.vectors)

    @property
    def dim(self):
        return self.vectors.shape[1]

    def _build_hnsw(self):
        faiss = _import_faiss()
        index = faiss.IndexHNSWFlat(self.dim, self.hnsw_neighbors,
                                    faiss.METRIC_INNER_PRODUCT)
        index.add(self.vectors)
        return index

    def search(self, queries, k=5):
        """The `k` nearest vectors of each query by inner product.

        Args:
            queries: float array `[num_queries, dim]` (or `[dim]`).
            k: int >= 1; more than the index holds gives all of them.

        Returns:
            `(scores, ids)`: float32 and int64 `[num_queries, min(k, n)]`,
            best first.

        Raises:
            ValueError: `k < 1` or a dimension that differs from the index.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if queries.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {queries.shape[1]}, "
                             f"the index {self.dim}")
        k = min(int(k), len(self))
        if self.backend == "exact":
            return exact_search(self.vectors, queries, k)
        self._faiss.hnsw.efSearch = max(self.hnsw_ef_search, k)
        scores, ids = self._faiss.search(queries, k)
        return scores.astype(np.float32), ids.astype(np.int64)

    def save(self, path):
        """Writes the index folder atomically (module docstring).

        Returns:
            `pathlib.Path` of the folder.
        """
        path = pathlib.Path(path)
        meta = {
            "format_version": FORMAT_VERSION,
            "model_name": self.model_name,
            "vocabulary_sha256": self.vocabulary_hash,
            "count": len(self),
            "dim": self.dim,
            "backend": self.backend,
            "hnsw_neighbors": self.hnsw_neighbors,
            "hnsw_ef_search": self.hnsw_ef_search,
        }
        with atomic_path(path) as temp:
            temp.mkdir()
            np.save(temp / "vectors.npy", self.vectors)
            if self.payload is not None:
                with open(temp / "payload.jsonl", "w", encoding="utf-8") as f:
                    for item in self.payload:
                        f.write(json.dumps(item, ensure_ascii=False) + "\n")
            if self._faiss is not None:
                _import_faiss().write_index(self._faiss,
                                            str(temp / "faiss.index"))
            (temp / "index.json").write_text(json.dumps(meta, indent=2)
                                             + "\n")
        return path

    @classmethod
    def load(cls, path, model_name=None, vocabulary_hash=None):
        """Reads a saved index, refusing one built by another encoder.

        Args:
            path: str or path. A folder written by `save`.
            model_name: str or None. If given, must equal the stored name.
            vocabulary_hash: str or None. If given, must equal the stored
                vocabulary SHA-256.

        Returns:
            `VectorIndex`.

        Raises:
            FileNotFoundError: no `index.json` in `path`.
            StaleIndexError: the encoder name or vocabulary differs; the
                message names both.
            ValueError: the folder is incomplete or inconsistent.
        """
        path = pathlib.Path(path)
        meta_file = path / "index.json"
        if not meta_file.is_file():
            raise FileNotFoundError(f"{path}: no vector index (index.json)")
        meta = json.loads(meta_file.read_text())
        if model_name is not None and str(model_name) != meta["model_name"]:
            raise StaleIndexError(
                f"{path}: the index was built with encoder "
                f"{meta['model_name']!r}, not {str(model_name)!r}; rebuild "
                "it with this encoder (scripts/faq_assistant.py build)")
        if (vocabulary_hash is not None
                and vocabulary_hash != meta["vocabulary_sha256"]):
            raise StaleIndexError(
                f"{path}: the index was built with a vocabulary of SHA-256 "
                f"{meta['vocabulary_sha256'][:12]}... (encoder "
                f"{meta['model_name']!r}), this encoder's is "
                f"{vocabulary_hash[:12]}... (encoder {model_name!r}); "
                "rebuild the index with this encoder")
        vectors = np.load(path / "vectors.npy")
        if vectors.shape != (meta["count"], meta["dim"]):
            raise ValueError(f"{path}: vectors.npy has shape {vectors.shape},"
                             f" index.json says {meta['count']} x "
                             f"{meta['dim']}")
        payload = None
        if (path / "payload.jsonl").is_file():
            payload = [json.loads(line) for line in (
                path / "payload.jsonl").read_text("utf-8").splitlines()]
        faiss_index = None
        if (path / "faiss.index").is_file():
            faiss_index = _import_faiss().read_index(str(path / "faiss.index"))
        return cls(vectors, meta["model_name"], meta["vocabulary_sha256"],
                   payload, meta["backend"],
                   hnsw_neighbors=meta.get("hnsw_neighbors", 32),
                   hnsw_ef_search=meta.get("hnsw_ef_search", 128),
                   _faiss_index=faiss_index)


def _import_faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("the faiss_hnsw backend needs faiss-cpu: "
                          "pip install faiss-cpu") from None
    return faiss
