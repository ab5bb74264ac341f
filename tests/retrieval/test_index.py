import numpy as np
import pytest

from tfllm.retrieval.index import StaleIndexError
from tfllm.retrieval.index import VectorIndex
from tfllm.retrieval.index import exact_search


def _unit(rows, dim, seed):
    x = np.random.default_rng(seed).normal(size=(rows, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _brute_force(vectors, queries, k):
    scores = queries.astype(np.float64) @ vectors.T.astype(np.float64)
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, axis=1), ids


@pytest.mark.parametrize("backend", ["exact", "faiss_hnsw"])
def test_search_returns_the_brute_force_neighbours(backend):
    if backend == "faiss_hnsw":
        pytest.importorskip("faiss")
    vectors, queries = _unit(300, 16, 0), _unit(40, 16, 1)
    index = VectorIndex(vectors, "m", "h", backend=backend)
    scores, ids = index.search(queries, 5)
    want_scores, want_ids = _brute_force(vectors, queries, 5)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_exact_search_breaks_ties_by_lower_id_and_caps_k():
    vectors = np.array([[1, 0], [1, 0], [0, 1]], np.float32)
    scores, ids = exact_search(vectors, np.array([[1, 0]], np.float32), 9)
    assert ids.tolist() == [[0, 1, 2]] and scores.tolist() == [[1, 1, 0]]


def test_auto_backend_switches_at_the_limit():
    pytest.importorskip("faiss")
    vectors = _unit(50, 8, 2)
    assert VectorIndex(vectors, "m", "h", exact_limit=50).backend == "exact"
    assert VectorIndex(vectors, "m", "h",
                       exact_limit=49).backend == "faiss_hnsw"


@pytest.mark.parametrize("backend", ["exact", "faiss_hnsw"])
def test_save_load_round_trip(tmp_path, backend):
    if backend == "faiss_hnsw":
        pytest.importorskip("faiss")
    vectors = _unit(60, 8, 3)
    payload = [{"question": f"q{i}", "intent": "x", "answer": "ä"}
               for i in range(60)]
    index = VectorIndex(vectors, "minilm", "abc", payload, backend)
    index.save(tmp_path / "idx")
    loaded = VectorIndex.load(tmp_path / "idx", "minilm", "abc")
    queries = _unit(7, 8, 4)
    for a, b in zip(index.search(queries, 3), loaded.search(queries, 3)):
        np.testing.assert_array_equal(a, b)
    assert loaded.payload == payload and loaded.backend == backend
    assert not list(tmp_path.glob(".tmp-*"))  # written aside, renamed


def test_stale_index_is_refused_naming_both(tmp_path):
    VectorIndex(_unit(5, 4, 5), "minilm", "a" * 64).save(tmp_path / "idx")
    with pytest.raises(StaleIndexError, match="'minilm'.*'runs/other'"):
        VectorIndex.load(tmp_path / "idx", "runs/other", "a" * 64)
    with pytest.raises(StaleIndexError, match="aaaaaaaaaaaa.*bbbbbbbbbbbb"):
        VectorIndex.load(tmp_path / "idx", "minilm", "b" * 64)
    with pytest.raises(FileNotFoundError, match="index.json"):
        VectorIndex.load(tmp_path / "nothing")


def test_bad_arguments():
    with pytest.raises(ValueError, match="payload"):
        VectorIndex(_unit(3, 4, 0), "m", "h", payload=[{}])
    with pytest.raises(ValueError, match="dimension"):
        VectorIndex(_unit(3, 4, 0), "m", "h").search(_unit(1, 5, 0))
