"""Labels of raw texts, from a run folder or an exported SavedModel.

Both sources answer through the same serving function
(`tfllm.export.classifier_serving.make_serving_fn`), so a run folder and its
export give the same labels and probabilities.
"""

import json
import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (tokenizer ops of SavedModels)

from tfllm.models.task import load_task_model
from tfllm.export.classifier_serving import TASK_MARKER
from tfllm.export.classifier_serving import input_signature
from tfllm.export.classifier_serving import make_serving_fn

# Registers tfllm's Keras classes for `load_model`.
from tfllm.models import text_classifier  # noqa: F401
from tfllm.preprocessing import text_classification_preprocessor  # noqa


def load_text_classifier(path, id2label=None):
    """Loads a saved `TextClassifier` (`.keras` file or run folder).

    Args:
        path: str or path. A `.keras` file, or a run folder with
            `model.keras`.
        id2label: list of str or None. If given, must equal the saved label
            list exactly (labels are never re-mapped).

    Returns:
        `TextClassifier`.

    Raises:
        FileNotFoundError: no model file at `path`.
        ValueError: `id2label` differs from the saved list, the file is not
            a text classifier, or it is corrupt (the message names it).
    """
    return load_task_model(path, text_classifier.TextClassifier, id2label)


def newest_export(base="saved_models"):
    """The newest classifier version folder `base/<name>/<int>`, or None.

    Only exports marked `assets/task.txt = text_classification` count.
    """
    candidates = [
        p for p in pathlib.Path(base).glob("*/*")
        if p.name.isdigit() and (p / "assets" / "task.txt").is_file()
        and (p / "assets" / "task.txt").read_text().strip() == TASK_MARKER
    ]
    return max(candidates, key=lambda p: p.stat().st_mtime, default=None)


class ClassifierPredictor:
    """Classifies raw texts (or text pairs).

    Args:
        path: str or path. A run folder (`model.keras`), a `.keras` file, a
            SavedModel version folder (`saved_model.pb`), or an export
            folder of integer versions (the highest is used); or a
            `TextClassifier` in memory.

    Raises:
        FileNotFoundError / ValueError: see `load_text_classifier`.

    Examples:
    ```python
    ClassifierPredictor("saved_models/banking77")(["Where is my card?"])
    # [{'label': 'card_arrival', 'probability': 0.97, ...}]
    ```
    """

    def __init__(self, path):
        if isinstance(path, text_classifier.TextClassifier):
            self._use_model(path)
            return
        path = pathlib.Path(path)
        versions = [p for p in path.glob("*") if p.name.isdigit()]
        if not (path / "saved_model.pb").is_file() and versions:
            path = max(versions, key=lambda p: int(p.name))
        if (path / "saved_model.pb").is_file():
            self._serve = tf.saved_model.load(str(path)).signatures[
                "serving_default"]
            assets = path / "assets"
            self.id2label = (assets / "labels.txt").read_text().splitlines()
            self.text_pairs = "text_pair" in (
                self._serve.structured_input_signature[1])
        else:
            self._use_model(load_text_classifier(path))

    def _use_model(self, model):
        serve = tf.function(make_serving_fn(model),
                            input_signature=input_signature(model))
        self._serve = (lambda **kw: serve(**kw))
        self.id2label = model.id2label
        self.text_pairs = model.text_pairs

    def __call__(self, texts, text_pairs=None):
        """Label, probability and all probabilities of each text.

        Args:
            texts: list of str (or one str).
            text_pairs: list of str (or one str) for pair models.

        Returns:
            list of dicts: `label` (str), `probability` (float),
            `probabilities` (dict label -> float, in label order), and for
            multi-label models `labels` (every label over its threshold).

        Raises:
            ValueError: pairs missing for a pair model, or given to another.
        """
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(text_pairs, str):
            text_pairs = [text_pairs]
        if self.text_pairs != (text_pairs is not None):
            raise ValueError(
                "this model classifies text pairs; give text_pairs"
                if self.text_pairs else "this model takes single texts")
        inputs = {"text": tf.constant(texts, tf.string)}
        if text_pairs is not None:
            inputs["text_pair"] = tf.constant(text_pairs, tf.string)
        out = {k: v.numpy() for k, v in self._serve(**inputs).items()}
        results = []
        for row in range(len(texts)):
            result = {
                "label": out["label"][row].decode(),
                "probability": float(out["probability"][row]),
                "probabilities": dict(zip(
                    self.id2label,
                    (float(p) for p in out["probabilities"][row]))),
            }
            if "predicted" in out:
                result["labels"] = [
                    self.id2label[i]
                    for i in np.flatnonzero(out["predicted"][row])]
            results.append(result)
        return results


def predict_classifier(texts, path, text_pairs=None):
    """One-call form of `ClassifierPredictor(path)(texts, text_pairs)`."""
    return ClassifierPredictor(path)(texts, text_pairs)


def to_json(results):
    """Results as a JSON string (UTF-8 text kept readable)."""
    return json.dumps(results, ensure_ascii=False, indent=2)
