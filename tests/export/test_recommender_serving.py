"""The two-tower recommender's retrieval SavedModel against the model.

Two tiny random models are exported once (an id-only attention tower, and
a mean tower with a tiny text encoder) and served by one subprocess that
cannot import tfllm; every test compares its answers with the in-memory
model.
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tiny_faq import tiny_encoder
from tfllm.export.recommender_serving import export_recommender
from tfllm.export.recommender_serving import load_recommender_export
from tfllm.export.recommender_serving import make_recommender_serving_fn
from tfllm.recommendation.examples import history_batch
from tfllm.recommendation.two_tower import TwoTowerRecommender

K = 10
MAX_HISTORY = 6
WORDS = "great movie awful plot the a .".split()
NEW_TEXTS = 3  # new items: two catalogue texts and one of its own


def id_model():
    keras.utils.set_random_seed(3)
    model = TwoTowerRecommender(30, num_users=4, embedding_dim=16,
                                user_tower="attention",
                                max_history=MAX_HISTORY, num_layers=1,
                                dropout=0.0)
    model.build()
    return model, [f"m{i}" for i in range(1, 31)]


def text_model():
    rng = np.random.default_rng(4)
    texts = []
    while len(texts) < 14:  # distinct texts: no tied scores
        text = " ".join(rng.choice(WORDS, 3))
        texts += [text] if text not in texts else []
    encoder = tiny_encoder()
    keras.utils.set_random_seed(5)
    model = TwoTowerRecommender(14, num_users=2, embedding_dim=8,
                                user_tower="mean", max_history=MAX_HISTORY,
                                text_feature_dim=16, item_texts=texts,
                                item_encoder=encoder, dropout=0.0)
    model.build()
    features = encoder.embed(tf.constant(texts)).numpy()
    model.set_item_text_features(np.concatenate(
        [np.zeros((1, features.shape[1]), np.float32), features]))
    return model, [f"t{i}" for i in range(1, 15)]


def requests(item_ids, seed, count=20):
    """Random raw-id histories: 0..10 items (beyond max_history), unknown
    ids and "" mixed in, rows padded with "" on the right."""
    rng = np.random.default_rng(seed)
    rows = [[]]  # one empty history
    for _ in range(count - 1):
        row = [str(i) for i in rng.choice(item_ids, rng.integers(1, 11))]
        for _ in range(rng.integers(0, 3)):
            row.insert(int(rng.integers(0, len(row) + 1)),
                       str(rng.choice(["", "unknown-id"])))
        rows.append(row)
    width = max(len(r) for r in rows)
    return [r + [""] * (width - len(r)) for r in rows]


def expected_ranking(model, item_ids, rows, new_vectors=None, keep=None,
                     k=K):
    """The in-memory model's top K, masked as the export masks (the last
    `keep` known items read, all of them excluded)."""
    index = {r: i + 1 for i, r in enumerate(item_ids)}
    known = [[index[r] for r in row if r in index] for row in rows]
    read = [items[-(keep or model.max_history):] for items in known]
    inputs = {"history": history_batch(read, model.max_history),
              "users": np.full(len(rows), model.num_users, np.int32)}
    scores = model(inputs).numpy()
    names = [""] + list(item_ids)
    if new_vectors is not None:
        user = model.user_vectors(inputs)[:, -1, :].numpy()
        scores = np.concatenate([scores, user @ new_vectors.T], 1)
        names += [f"new:{i}" for i in range(len(new_vectors))]
    scores[:, 0] = -np.inf
    for b, items in enumerate(known):
        scores[b, items] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(scores, order, 1)
    return ([[names[i] if np.isfinite(s) else "" for i, s in zip(row, values)]
             for row, values in zip(order, top)], top)


SERVE = r"""
import importlib.abc, json, sys

class NoTfllm(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tfllm":
            raise ImportError("tfllm must not be imported")

sys.meta_path.insert(0, NoTfllm())
import tensorflow as tf
import tensorflow_text  # the tokenizer ops of the text model

def plain(out):
    return {k: [[x.decode() if isinstance(x, bytes) else x for x in row]
                for row in v.numpy().tolist()] for k, v in out.items()}

jobs = json.loads(sys.stdin.read())  # sent once the exports are written
results = {}
for name, job in jobs.items():
    loaded = tf.saved_model.load(job["path"])
    ids = tf.constant(job["rows"])
    results[name] = {
        "signatures": sorted(loaded.signatures),
        "default": plain(loaded.signatures["serving_default"](item_ids=ids))}
    if "new_texts" in job:
        serve = loaded.signatures["with_new_items"]
        results[name]["new"] = plain(serve(
            item_ids=ids, new_item_texts=tf.constant(job["new_texts"])))
        results[name]["no_new"] = plain(serve(
            item_ids=ids, new_item_texts=tf.constant([], tf.string)))
results["tfllm_modules"] = [m for m in sys.modules if m.startswith("tfllm")]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("recs")
    # Started first: it imports TensorFlow while the models are exported.
    server = subprocess.Popen(
        [sys.executable, "-I", "-c", SERVE], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=base)
    try:
        return _export_and_serve(base, server)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


def _export_and_serve(base, server):
    ids_model, ids_items = id_model()
    text, text_items = text_model()
    titles = [f"title of {i}" for i in ids_items]
    id_path = export_recommender(ids_model, ids_items, titles, base / "ids",
                                 k=K)
    text_path = export_recommender(text, text_items, text.item_texts,
                                   base / "text", k=K)
    new_texts = [text.item_texts[2], text.item_texts[7], "great awful ."]
    jobs = {
        "ids": {"path": str(id_path), "rows": requests(ids_items, 0)},
        "text": {"path": str(text_path), "rows": requests(text_items, 1),
                 "new_texts": new_texts},
    }
    stdout, stderr = server.communicate(json.dumps(jobs), timeout=300)
    assert server.returncode == 0, stderr[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    return {"out": out, "jobs": jobs, "base": base,
            "models": {"ids": (ids_model, ids_items, titles),
                       "text": (text, text_items, text.item_texts)}}


def check(served_out, expected_ids, expected_scores, titles_of):
    assert served_out["item_ids"] == expected_ids
    np.testing.assert_allclose(served_out["scores"], expected_scores,
                               rtol=1e-5, atol=1e-5)
    assert served_out["titles"] == [[titles_of(i) if i else "" for i in row]
                                    for row in expected_ids]


@pytest.mark.parametrize("name", ["ids", "text"])
def test_export_ranks_as_the_model_without_history(served, name):
    model, items, titles = served["models"][name]
    rows = served["jobs"][name]["rows"]
    ids, scores = expected_ranking(model, items, rows)
    title = dict(zip(items, titles))
    out = served["out"][name]
    check(out["default"], ids, scores, title.get)
    for row, top in zip(rows, out["default"]["item_ids"]):
        assert not (set(row) & set(top)) - {""}  # history left out
    assert out["signatures"] == (["serving_default", "with_new_items"]
                                 if name == "text" else ["serving_default"])
    assert served["out"]["tfllm_modules"] == []


def test_new_items_rank_by_their_text_only_vector(served):
    model, items, texts = served["models"]["text"]
    job = served["jobs"]["text"]
    # A new item with a catalogue item's text is that item's text-only
    # vector (projected cached features, no id embedding).
    cached = model.item_text_features.numpy()
    own = model.item_encoder.embed(tf.constant(job["new_texts"][2:])).numpy()
    features = np.concatenate([cached[[3, 8]], own])
    vectors = model.text_item_vectors(features).numpy()
    ids, scores = expected_ranking(model, items, job["rows"], vectors)
    title = dict(zip(items, texts))
    title.update({f"new:{i}": t for i, t in enumerate(job["new_texts"])})
    out = served["out"]["text"]
    check(out["new"], ids, scores, title.get)
    found = {i for row in out["new"]["item_ids"] for i in row}
    assert {"new:0", "new:1", "new:2"} <= found
    # No new items: the same as serving_default.
    assert out["no_new"] == out["default"]


def test_metadata_versions_and_python_loader(served):
    model, items, titles = served["models"]["ids"]
    path = served["base"] / "ids" / "1"
    meta = json.loads((path / "assets" / "recommender.json").read_text())
    assert meta["task"] == "recommender_retrieval"
    assert (meta["k"], meta["max_history"], meta["num_items"]) == (
        K, MAX_HISTORY, 30)
    assert meta["signatures"] == ["serving_default"]
    assert meta["config"]["user_tower"] == "attention"
    assert (path / "assets" / "task.txt").read_text().strip() == \
        "recommender_retrieval"
    recommend = load_recommender_export(served["base"] / "ids")
    histories = [["m3", "m5"], ["m30"]]
    got = recommend(histories)
    ids, scores = expected_ranking(model, items, histories)
    assert [[r["item_id"] for r in row] for row in got] == ids
    np.testing.assert_allclose([[r["score"] for r in row] for row in got],
                               scores, rtol=1e-5, atol=1e-5)
    assert got[0][0]["title"] == f"title of {ids[0][0]}"
    with pytest.raises(ValueError, match="no new_item_texts"):
        recommend(histories, ["a new film"])


def test_small_catalogue_fills_empty_slots_and_new_version(tmp_path):
    keras.utils.set_random_seed(0)
    model = TwoTowerRecommender(3, embedding_dim=4, user_tower="mean",
                                max_history=4, dropout=0.0)
    model.build()
    first = export_recommender(model, ["a", "b", "c"], None, tmp_path, k=5)
    second = export_recommender(model, ["a", "b", "c"], None, tmp_path, k=5)
    assert (first.name, second.name) == ("1", "2")
    recommend = load_recommender_export(tmp_path)
    assert recommend.path == second and recommend.metadata["k"] == 3
    out = recommend.signatures["serving_default"](
        item_ids=tf.constant([["a", "c"], ["", ""]]))
    assert out["item_ids"].numpy()[0].tolist() == [b"b", b"", b""]
    assert np.isinf(out["scores"].numpy()[0, 1:]).all()
    assert sorted(out["item_ids"].numpy()[1].tolist()) == [b"a", b"b", b"c"]


@pytest.mark.parametrize("user_tower,keep", [("attention", 3), ("id", None)])
def test_shorter_history_and_id_tower(tmp_path, user_tower, keep):
    keras.utils.set_random_seed(6)
    model = TwoTowerRecommender(12, num_users=3, embedding_dim=8,
                                user_tower=user_tower, max_history=5,
                                num_layers=1, dropout=0.0)
    model.build()
    items = [f"x{i}" for i in range(1, 13)]
    recommend = load_recommender_export(export_recommender(
        model, items, None, tmp_path, k=4, max_history=keep))
    rows = requests(items, 2, count=8) + [[], items[:10]]
    got = recommend(rows)
    ids, scores = expected_ranking(model, items, rows, keep=keep, k=4)
    assert any("" in row for row in ids)  # a history left under k items
    for row, want, values in zip(got, ids, scores):  # empty slots left out
        assert [r["item_id"] for r in row] == [i for i in want if i]
        np.testing.assert_allclose([r["score"] for r in row],
                                   values[np.isfinite(values)], rtol=1e-5,
                                   atol=1e-5)


def test_bad_arguments():
    keras.utils.set_random_seed(0)
    model = TwoTowerRecommender(3, embedding_dim=4, user_tower="mean",
                                max_history=4, dropout=0.0)
    with pytest.raises(ValueError, match="3 items"):
        make_recommender_serving_fn(model, ["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        make_recommender_serving_fn(model, ["a", "a", "b"])
    with pytest.raises(ValueError, match="max_history"):
        make_recommender_serving_fn(model, ["a", "b", "c"], max_history=5)
    with pytest.raises(ValueError, match="text item tower"):
        make_recommender_serving_fn(model, ["a", "b", "c"], new_items=True)
