"""Named entities of raw text, from a run folder or an exported SavedModel.

Both sources answer through the same serving function
(`tfllm.export.ner_serving.make_serving_fn`), so a run folder and its export
give the same entities.
"""

import json
import pathlib

import tensorflow as tf
import tensorflow_text  # noqa: F401  (tokenizer ops of SavedModels)

from tfllm.models.task import load_task_model
from tfllm.export.ner_serving import TEXT_SPEC
from tfllm.export.ner_serving import make_serving_fn

# Registers tfllm's Keras classes for `load_model`.
from tfllm.models import token_classifier  # noqa: F401
from tfllm.preprocessing import token_classification_preprocessor  # noqa


def load_token_classifier(path, id2label=None):
    """Loads a saved `TokenClassifier` (`.keras` file or run folder).

    Args:
        path: str or path. A `.keras` file, or a run folder with
            `model.keras`.
        id2label: list of str or None. If given, must equal the saved label
            list exactly (labels are never re-mapped).

    Returns:
        `TokenClassifier`.

    Raises:
        FileNotFoundError: no model file at `path`.
        ValueError: `id2label` differs from the saved list, or the file is
            corrupt (the message names it).
    """
    return load_task_model(path, token_classifier.TokenClassifier, id2label)


def find_saved_model(path):
    """The SavedModel folder at `path`, or None.

    Args:
        path: str or path. A SavedModel version folder (`saved_model.pb`,
            e.g. `saved_models/ner/1`) or an export folder of integer
            versions (`saved_models/ner`: the newest version is taken, as
            TF Serving does).

    Returns:
        `pathlib.Path` of the version folder, or None when `path` holds no
        SavedModel.
    """
    path = pathlib.Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    if not path.is_dir():
        return None
    versions = [int(p.name) for p in path.iterdir()
                if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    return path / str(max(versions)) if versions else None


class NerPredictor:
    """Tags raw sentences and returns their entities.

    Args:
        path: str or path. A run folder (`model.keras`), a `.keras` file, a
            SavedModel version folder (`saved_model.pb`, e.g.
            `saved_models/ner/1`) or an export folder of versions
            (`saved_models/ner`: the newest one); or a `TokenClassifier`
            itself.

    Raises:
        FileNotFoundError / ValueError: see `load_token_classifier`.

    Examples:
    ```python
    NerPredictor("saved_models/ner/1")(["EU rejects German call ."])
    ```
    """

    def __init__(self, path):
        if isinstance(path, token_classifier.TokenClassifier):
            model = path
            self._serve = tf.function(
                make_serving_fn(model), input_signature=[TEXT_SPEC]
            )
            return
        path = pathlib.Path(path)
        saved_model = None
        if not (path / "model.keras").is_file():
            saved_model = find_saved_model(path)
        if saved_model is not None:
            self._serve = tf.saved_model.load(str(saved_model)).signatures[
                "serving_default"
            ]
        else:
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such file or folder")
            if path.is_dir() and not (path / "model.keras").is_file():
                raise FileNotFoundError(
                    f"{path}: neither a run folder (model.keras) nor a "
                    "SavedModel export (saved_model.pb, or version folders "
                    "1, 2, ... holding one)")
            model = load_token_classifier(path)
            self._serve = tf.function(
                make_serving_fn(model), input_signature=[TEXT_SPEC]
            )

    def __call__(self, texts):
        """Entities and word tags of each text.

        Args:
            texts: list of str (or one str).

        Returns:
            list (one per text) of dicts: `words` and `tags` (lists of str),
            `entities` (list of dicts with `type`, `start`, `end` character
            offsets, end exclusive, and `text`).
        """
        if isinstance(texts, str):
            texts = [texts]
        out = {k: v.numpy() for k, v in
               self._serve(text=tf.constant(texts, tf.string)).items()}
        results = []
        for row in range(len(texts)):
            n, m = int(out["num_words"][row]), int(out["num_entities"][row])
            results.append({
                "words": [w.decode() for w in out["words"][row, :n]],
                "tags": [t.decode() for t in out["tags"][row, :n]],
                "entities": [
                    {
                        "type": out["entity_types"][row, i].decode(),
                        "start": int(out["entity_starts"][row, i]),
                        "end": int(out["entity_ends"][row, i]),
                        "text": out["entity_texts"][row, i].decode(),
                    }
                    for i in range(m)
                ],
            })
        return results


def predict_ner(texts, path):
    """One-call form of `NerPredictor(path)(texts)`."""
    return NerPredictor(path)(texts)


def format_entities(result):
    """One line per entity: `text<TAB>type<TAB>start-end`."""
    return "\n".join(
        f"{e['text']}\t{e['type']}\t{e['start']}-{e['end']}"
        for e in result["entities"]
    )


def to_json(results):
    """Results as a JSON string (UTF-8 text kept readable)."""
    return json.dumps(results, ensure_ascii=False, indent=2)
