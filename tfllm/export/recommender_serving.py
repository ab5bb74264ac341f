"""Raw-id SavedModel of a two-tower recommender's retrieval (TF Serving).

`export_recommender` writes `export_base/<version>/` (written aside and
renamed when complete, `tfllm.export.versioned`) with these signatures:

- `serving_default(item_ids)`;
- `with_new_items(item_ids, new_item_texts)`, only for models with a
  language-model item tower (`item_encoder` and `text_feature_dim > 0`).

A signature cannot have optional inputs, hence two of them: clients
without new items call `serving_default`, which stays the same for
id-only and text models. Inputs:

- `item_ids`: `tf.string` `[batch, None]`, each user's history as RAW item
  ids (the dataset's `item_ids`), most recent last, any length. Ids are
  mapped in-graph (a `tf.lookup.StaticHashTable`); the empty string and
  unknown ids are dropped, wherever they stand, so rows of different
  lengths may be padded with `""` on either side. The user tower reads the
  last `max_history` known items, left-padded as in training.
- `new_item_texts`: `tf.string` `[None]` (may be empty), texts of items
  not in the catalogue, shared by the whole batch. They are embedded
  in-graph (`SentenceEncoder.embed`, then `text_item_vectors`: the text
  path alone, no id embedding, as for cold-start items) and ranked with
  the catalogue; results name them `new:<position>` with the text as the
  title.

Outputs, best first:

- `item_ids`: `tf.string` `[batch, k]`, raw item ids (or `new:<i>`);
- `titles`: `tf.string` `[batch, k]`;
- `scores`: float32 `[batch, k]`, raw dot products of the user and item
  vectors (no logQ correction, no temperature).

Every catalogue item in the request's history (all of it, not only the last
`max_history`) and the padding row are excluded (score -inf before
`tf.math.top_k`); when fewer than `k` items are left, the remaining slots
have id and title `""` and score -inf. Serving knows no user ids: the user
tower gets the unknown-user index (`num_users`), as for a new user, so a
`user_tower="id"` model ranks the same items for everyone (less the
history). The catalogue's item vectors are computed once at export and
stored as one variable (`item_vectors`), so a request costs the user
tower, one `[batch, d] x [d, num_items + 1]` product and the top-k. Only
the variables the signatures use are saved (not, e.g., the cached encoder
outputs of the catalogue). `k` is capped at `num_items`; equal scores rank
the lower item index first.

`assets/` holds `task.txt` (`recommender_retrieval`) and `recommender.json`
(k, max_history, num_items, signatures, the model's configuration less its
item texts and encoder). The export loads without tfllm:

```python
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops (text models only)
serve = tf.saved_model.load("saved_models/recs/1").signatures[
    "serving_default"]
serve(item_ids=tf.constant([["1193", "661", "914"], ["", "", "3408"]]))
```
"""

import importlib
import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfllm.export.versioned import next_version
from tfllm.peft.saving import merged_for_export
from tfllm.utils.atomic import atomic_path

ITEM_IDS_SPEC = tf.TensorSpec([None, None], tf.string, name="item_ids")
NEW_ITEM_TEXTS_SPEC = tf.TensorSpec([None], tf.string, name="new_item_texts")
TASK_MARKER = "recommender_retrieval"
METADATA_FILE = "recommender.json"
NEW_ITEM_PREFIX = "new:"


def has_text_tower(model):
    """Whether `model` can embed new items from text (`with_new_items`)."""
    encoder = getattr(model, "item_encoder", None)
    return bool(model.text_feature_dim) and encoder is not None and \
        getattr(encoder, "preprocessor", None) is not None


def _check_catalogue(model, item_ids, item_titles):
    item_ids = [str(i) for i in item_ids]
    if len(item_ids) != model.num_items:
        raise ValueError(f"{len(item_ids)} item ids for a model of "
                         f"{model.num_items} items")
    if "" in item_ids or len(set(item_ids)) != len(item_ids):
        raise ValueError("item ids must be non-empty and unique")
    if item_titles is None:
        item_titles = item_ids
    item_titles = [str(t) for t in item_titles]
    if len(item_titles) != len(item_ids):
        raise ValueError(f"{len(item_titles)} titles for {len(item_ids)} "
                         "items")
    return item_ids, item_titles


def _serving_k(model, k):
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    return min(k, model.num_items)


def _serving_history(model, max_history):
    if max_history is None:
        return model.max_history
    max_history = int(max_history)
    if not 1 <= max_history <= model.max_history:
        raise ValueError(f"max_history must lie in 1..{model.max_history} "
                         f"(the model's), got {max_history}")
    return max_history


class _Catalogue:
    """The graph's state: id table, item vectors, ids and titles."""

    def __init__(self, model, item_ids, item_titles):
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(item_ids, tf.string),
                tf.range(1, len(item_ids) + 1, dtype=tf.int64)),
            default_value=0)
        vectors = np.asarray(keras.ops.convert_to_numpy(
            model.item_vectors()), np.float32)
        self.vectors = tf.Variable(vectors, trainable=False,
                                   name="item_vectors")
        self.ids = tf.Variable([""] + item_ids, trainable=False,
                               name="item_ids")
        self.titles = tf.Variable([""] + item_titles, trainable=False,
                                  name="item_titles")


def make_recommender_serving_fn(model, item_ids, item_titles=None, k=10,
                                max_history=None, new_items=False,
                                catalogue=None):
    """Builds a serving function of a `TwoTowerRecommender`.

    Args:
        model: `TwoTowerRecommender`, built.
        item_ids: list of str, the raw id of items 1..num_items
            (`RecDataset.item_ids`).
        item_titles: list of str or None, their display titles
            (`RecDataset.item_title(i)`); None: the ids.
        k: int. Items returned per user (capped at `num_items`).
        max_history: int or None. Known history items the user tower reads
            (at most the model's `max_history`, its default).
        new_items: bool. Take `new_item_texts` too (needs a text item
            tower).
        catalogue: internal, shares the graph state between signatures.

    Returns:
        callable `item_ids -> dict` (`(item_ids, new_item_texts) -> dict`
        with `new_items`) of the outputs in the module docstring; wrap it
        in `tf.function` with `[ITEM_IDS_SPEC]` (and
        `NEW_ITEM_TEXTS_SPEC`).

    Raises:
        ValueError: ids or titles that do not fit the model, a bad `k` or
            `max_history`, or `new_items` without a text item tower.
    """
    item_ids, item_titles = _check_catalogue(model, item_ids, item_titles)
    if new_items and not has_text_tower(model):
        raise ValueError("new_items needs a model with a text item tower "
                         "(item_encoder with a preprocessor)")
    if not model.built:
        model.build()
    k = _serving_k(model, k)
    max_history = _serving_history(model, max_history)
    width = model.max_history
    if catalogue is None:
        catalogue = _Catalogue(model, item_ids, item_titles)

    def user_scores(raw_ids):
        """Masked catalogue scores `[batch, num_items + 1]`, user vectors."""
        indices = tf.cast(catalogue.table.lookup(raw_ids), tf.int32)  # B, L
        batch = tf.shape(indices)[0]
        # Known items, most recent first; cut at max_history, padded to the
        # model's width and reversed: left-padded, most recent last.
        recent = tf.reverse(indices, axis=[1])
        recent = tf.ragged.boolean_mask(recent, recent > 0)
        recent = recent[:, :max_history].to_tensor(
            default_value=0, shape=[None, width])
        history = tf.reverse(recent, axis=[1])
        users = tf.fill([batch], model.num_users)
        items = tf.convert_to_tensor(catalogue.vectors)
        user = tf.cast(model.user_vectors(
            {"history": history, "users": users}, items,
            training=False)[:, -1, :], tf.float32)
        scores = tf.matmul(user, items, transpose_b=True)  # B, N + 1
        # Every item of the request's history, and the padding row.
        rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(indices))
        seen = tf.reshape(tf.stack([rows, indices], -1), [-1, 2])
        scores = tf.tensor_scatter_nd_update(
            scores, seen, tf.fill([tf.shape(seen)[0]], -np.inf))
        padding = tf.one_hot(0, model.num_items + 1, on_value=True,
                             off_value=False)
        return tf.where(padding[None, :], -np.inf, scores), user

    def ranked(scores, ids, titles):
        top = tf.math.top_k(scores, k)
        empty = tf.equal(top.values, -np.inf)
        return {
            "item_ids": tf.where(empty, "", tf.gather(ids, top.indices)),
            "titles": tf.where(empty, "", tf.gather(titles, top.indices)),
            "scores": top.values,
        }

    if not new_items:
        def serve(item_ids):
            scores, _ = user_scores(item_ids)
            return ranked(scores, catalogue.ids, catalogue.titles)

        return serve

    def serve_with_new_items(item_ids, new_item_texts):
        scores, user = user_scores(item_ids)
        count = tf.shape(new_item_texts)[0]
        # The encoder cannot take an empty batch (a [0, 0] token tensor).
        features = tf.cond(
            count > 0,
            lambda: tf.cast(model.item_encoder.embed(new_item_texts),
                            tf.float32),
            lambda: tf.zeros([0, model.text_feature_dim], tf.float32))
        vectors = tf.cast(model.text_item_vectors(features), tf.float32)
        new_scores = tf.matmul(user, vectors, transpose_b=True)  # B, M
        new_ids = tf.strings.join(
            [NEW_ITEM_PREFIX, tf.strings.as_string(tf.range(count))])
        return ranked(tf.concat([scores, new_scores], 1),
                      tf.concat([catalogue.ids, new_ids], 0),
                      tf.concat([catalogue.titles, new_item_texts], 0))

    return serve_with_new_items


def _config_summary(model):
    config = model.get_config()
    summary = {key: config[key] for key in (
        "num_items", "num_users", "embedding_dim", "user_tower",
        "max_history", "num_layers", "num_heads", "use_item_ids",
        "text_feature_dim", "text_hidden_dim", "negatives",
        "logq_correction", "temperature", "user_feature_vocab_sizes")
        if key in config}
    encoder = getattr(model, "item_encoder", None)
    summary["item_encoder"] = None if encoder is None else encoder.name
    return summary


def export_recommender(model, item_ids, item_titles, export_base, k=10,
                       max_history=None, version=None):
    """Writes a versioned retrieval SavedModel of a two-tower recommender.

    Args:
        model: `TwoTowerRecommender`, trained (its item text cache filled
            for text models). A LoRA/AdaLoRA-tuned item encoder is merged
            while writing (`merged_for_export`).
        item_ids: list of str, raw ids of items 1..num_items.
        item_titles: list of str or None, their titles (None: the ids).
        export_base: str or path; versions are integer subfolders.
        k: int. Items returned per user (capped at `num_items`).
        max_history: int or None. See `make_recommender_serving_fn`.
        version: int or None. None: one above the highest existing.

    Returns:
        `pathlib.Path` of the version folder (it appears when complete),
        with `assets/task.txt` and `assets/recommender.json`.

    Raises:
        ValueError: see `make_recommender_serving_fn`.
    """
    item_ids, item_titles = _check_catalogue(model, item_ids, item_titles)
    if not model.built:
        model.build()
    text = has_text_tower(model)
    k = _serving_k(model, k)
    max_history = _serving_history(model, max_history)
    version = next_version(export_base) if version is None else int(version)
    final = pathlib.Path(export_base) / str(version)
    encoder = model.item_encoder if text else None
    catalogue = _Catalogue(model, item_ids, item_titles)
    signatures = ["serving_default"] + (["with_new_items"] if text else [])
    with atomic_path(final) as temp, merged_for_export(
            encoder if text else model):
        archive = keras.export.ExportArchive()
        # Only the variables the endpoints use are saved (the user tower,
        # the item vectors and, for new items, the encoder and projection);
        # tracked here are the lookup tables.
        archive.track(catalogue.table)
        if text:
            archive.track(encoder.preprocessor)
        archive.add_endpoint(
            name="serving_default",
            fn=make_recommender_serving_fn(
                model, item_ids, item_titles, k, max_history,
                catalogue=catalogue),
            input_signature=[ITEM_IDS_SPEC])
        if text:
            archive.add_endpoint(
                name="with_new_items",
                fn=make_recommender_serving_fn(
                    model, item_ids, item_titles, k, max_history,
                    new_items=True, catalogue=catalogue),
                input_signature=[ITEM_IDS_SPEC, NEW_ITEM_TEXTS_SPEC])
        archive.write_out(str(temp), verbose=False)
        assets = temp / "assets"
        assets.mkdir(exist_ok=True)
        (assets / "task.txt").write_text(TASK_MARKER + "\n")
        (assets / METADATA_FILE).write_text(json.dumps({
            "task": TASK_MARKER, "k": k, "max_history": max_history,
            "num_items": model.num_items, "signatures": signatures,
            "new_item_prefix": NEW_ITEM_PREFIX,
            "config": _config_summary(model)}, indent=2) + "\n")
    return final


def _version_folder(path):
    path = pathlib.Path(path)
    if (path / "saved_model.pb").exists():
        return path
    versions = [p for p in path.glob("*")
                if p.is_dir() and p.name.isdigit()
                and (p / "saved_model.pb").exists()]
    if not versions:
        raise FileNotFoundError(f"no SavedModel in {path}")
    return max(versions, key=lambda p: int(p.name))


def load_recommender_export(path):
    """Loads an `export_recommender` SavedModel as a Python callable.

    Args:
        path: a version folder, or an export base (its highest version).

    Returns:
        callable `recommend(histories, new_item_texts=None)`: `histories`
        a list of lists of raw item ids (most recent last, any lengths);
        returns one list per user of `{"item_id", "title", "score"}`
        dicts, best first (empty slots left out). It has `metadata`
        (the `recommender.json` dict) and `path` attributes.

    Raises:
        FileNotFoundError: no SavedModel under `path`.
        ValueError: not a recommender export, or `new_item_texts` for an
            export without `with_new_items`.
    """
    folder = _version_folder(path)
    marker = folder / "assets" / "task.txt"
    if not marker.exists() or marker.read_text().strip() != TASK_MARKER:
        raise ValueError(f"{folder} is not a recommender export")
    metadata = json.loads((folder / "assets" / METADATA_FILE).read_text())
    if "with_new_items" in metadata["signatures"]:
        importlib.import_module("tensorflow_text")  # the tokenizer ops
    loaded = tf.saved_model.load(str(folder))

    def recommend(histories, new_item_texts=None):
        width = max([len(h) for h in histories] + [0])
        padded = [[""] * (width - len(h)) + [str(i) for i in h]
                  for h in histories]
        ids = tf.constant(padded, tf.string, shape=[len(histories), width])
        if new_item_texts is None:
            out = loaded.signatures["serving_default"](item_ids=ids)
        elif "with_new_items" not in loaded.signatures:
            raise ValueError("this export takes no new_item_texts (its "
                             "model has no text item tower)")
        else:
            out = loaded.signatures["with_new_items"](
                item_ids=ids, new_item_texts=tf.constant(
                    [str(t) for t in new_item_texts], tf.string,
                    shape=[len(new_item_texts)]))
        ids = out["item_ids"].numpy()
        titles = out["titles"].numpy()
        scores = out["scores"].numpy()
        return [[{"item_id": i.decode(), "title": t.decode(),
                  "score": float(s)}
                 for i, t, s in zip(row_ids, row_titles, row_scores)
                 if np.isfinite(s)]
                for row_ids, row_titles, row_scores in
                zip(ids, titles, scores)]

    recommend.metadata = metadata
    recommend.path = folder
    recommend.signatures = loaded.signatures
    recommend.loaded = loaded  # keeps the resources alive
    return recommend
