"""The high-level methods of `TextClassifier`: train, score, predict, export.

`TextClassifierMethods` is a mixin of `tfllm.models.text_classifier.
TextClassifier`. Its `fit`, `evaluate` and `predict` take Python data (texts
and labels, `(text, label)` pairs, `TextExample`s or a file path) and run
tfllm's own training loop and reports; given tensors, arrays or a
`tf.data.Dataset` they are Keras' own methods, unchanged (so
`tfllm.training.train`, which calls `model.fit` on a `tf.data.Dataset`,
keeps working).

```python
model = tfllm.TextClassifier.from_pretrained(
    "minilm", labels=["negative", "positive"], seed=42)
model.fit(["great movie", "awful plot"], ["positive", "negative"],
          validation_data=(["great plot"], ["positive"]), epochs=1)
model.predict("a great movie")   # {'label': 'positive', ...}
```

The command `tfllm train classifier` (`tfllm.runs.classification.run`) is
built on these methods, so a run from Python and one from the command line
with the same seed and settings train the same weights.
"""

import contextvars
import os
import pathlib
import shutil
import tempfile
import types

import keras
import numpy as np

# Callbacks that a high-level `fit` adds to the `model.fit` calls of
# `tfllm.training.trainer.train` (which builds its own callback list; a
# resumed run trains a reloaded model object, so the list cannot live on
# `self`).
_EXTRA_CALLBACKS = contextvars.ContextVar("tfllm_extra_callbacks",
                                          default=())

# Keyword arguments of `fit`/`evaluate` that say how to read a file.
READ_OPTIONS = ("format", "text_column", "label_column", "text_pair_column",
                "delimiter", "encoding", "label_separator", "skip_bad_rows")
SCALARS = ("accuracy", "macro_f1", "weighted_f1", "micro_f1")
# Keys of `tfllm.evaluation.classification_evaluator.evaluate_classifier`'s
# result that hold one entry per example (left out of the report).
PER_EXAMPLE = ("probabilities", "predicted", "gold")


def is_text_data(x):
    """True when `x` is Python text data rather than Keras input.

    Text data: a str or path-like (a file), a non-empty list or tuple whose
    first item is a str, a `(text, ...)` tuple/list or a `TextExample`, or
    a NumPy array of strings. Anything else (None, tensors, dicts of
    arrays, `tf.data.Dataset`) goes to Keras.
    """
    from tfllm.data.text_files import TextExample

    if isinstance(x, (str, os.PathLike)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO"
    if isinstance(x, (list, tuple)) and x:
        return isinstance(x[0], (str, tuple, list, TextExample))
    return False


def _label(value, multi_label, where):
    if multi_label:
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple, set)):
            return sorted(str(v) for v in value)
        raise ValueError(f"{where}: a multi-label model takes a list of "
                         f"labels per text, not {value!r}")
    if isinstance(value, (list, tuple, set)):
        raise ValueError(f"{where}: {value!r} is a label set, but the model "
                         "is single-label (from_pretrained(..., "
                         "multi_label=True) for label sets)")
    return str(value)


def as_examples(model, x, y=None, name="x", dataset=None, bad_rows=None,
                **read_options):
    """Turns the data given to `fit`/`evaluate` into `TextExample`s.

    Args:
        model: the `TextClassifier` (its `multi_label`, `text_pairs`).
        x: a file path (CSV/TSV/JSONL/... read by
            `tfllm.data.text_files.read_text_file`, or in `dataset`'s own
            layout), a list of texts (with `y`), a list of `(text, label)`
            pairs (`(text, text_pair, label)` for pair models; or
            `(text, text_pair)` with `y`), or a list of `TextExample`.
        y: list of labels (str; a list of str per text for multi-label
            models) or None.
        name: str. How error messages name `x` (`"x"`,
            `"validation_data"`).
        dataset: str or None. A key of
            `tfllm.data.classification_datasets.DATASETS`: read a file with
            that dataset's format, columns and label names.
        bad_rows: `BadRows` or None (None raises on the first bad row).
        read_options: `READ_OPTIONS` for `read_text_file`.

    Returns:
        list of `TextExample` (a Python list's examples are named
        `<name>[i]`).

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        TypeError: `y` given with a file or with `(text, label)` pairs.
        ValueError: texts and labels of different lengths, a label the
            model does not have (naming the list item, e.g. `y[3]`), a
            label set for a single-label model, or pairs missing for a pair
            model. (A file's unknown labels are checked by the caller,
            `tfllm.data.labels.check_labels`, naming `file:line`.)
    """
    from tfllm.data.bad_rows import BadRows
    from tfllm.data.text_files import TextExample
    from tfllm.data.text_files import read_text_file

    if isinstance(x, (str, os.PathLike)):
        if y is not None:
            raise TypeError(f"{name} is a file ({x}); its labels come from "
                            "the file: leave y out")
        path = pathlib.Path(x)
        if not path.is_file():
            raise FileNotFoundError(f"{name}: {path}: no such file")
        bad_rows = bad_rows or BadRows(read_options.get("skip_bad_rows",
                                                        False))
        if dataset is not None:
            from tfllm.data.classification_datasets import read_dataset_file

            return read_dataset_file(dataset, path, bad_rows)
        delimiter = read_options.get("delimiter")
        return read_text_file(
            path, read_options.get("format"),
            read_options.get("text_column") or "text",
            read_options.get("label_column") or "label",
            read_options.get("text_pair_column"),
            {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter),
            read_options.get("encoding"),
            (read_options.get("label_separator") or "|")
            if model.multi_label else None, bad_rows)
    items = list(x.tolist() if isinstance(x, np.ndarray) else x)
    if items and isinstance(items[0], TextExample):
        return items
    if y is not None:
        labels = list(y.tolist() if isinstance(y, np.ndarray) else y)
        if len(labels) != len(items):
            raise ValueError(f"{name}: {len(items)} texts but {len(labels)} "
                             "labels")
        rows = [(*((t,) if isinstance(t, str) else tuple(t)), label)
                for t, label in zip(items, labels)]
    else:
        rows = [tuple(item) if not isinstance(item, str) else (item,)
                for item in items]
    width = 3 if model.text_pairs else 2
    known = set(model.id2label)
    examples = []
    for i, row in enumerate(rows):
        where = f"{name}[{i}]"
        if len(row) != width:
            wanted = ("(text, text_pair, label)" if model.text_pairs
                      else "(text, label)")
            raise ValueError(
                f"{where}: expected {wanted}"
                + ("" if y is not None else " pairs, or texts with y=labels")
                + f"; got {row!r}")
        text = str(row[0]).strip()
        if not text:
            raise ValueError(f"{where}: empty text")
        pair = str(row[1]).strip() if model.text_pairs else None
        if y is not None:  # name the label list's item
            where = f"y[{i}]" if name == "x" else f"{name}[1][{i}]"
        label = _label(row[-1], model.multi_label, where)
        unknown = [n for n in (label if model.multi_label else [label])
                   if n not in known]
        if unknown:
            raise ValueError(
                f"{where}: unknown label {unknown[0]!r}; the model's labels "
                f"are {model.id2label}")
        examples.append(TextExample(text, label, pair, name, i + 1))
    return examples


def _training_config(training_config, epochs, batch_size, overrides):
    from tfllm.training.trainer import TrainingConfig

    from tfllm.config import replace_settings

    changes = dict(overrides)
    if epochs is not None:
        changes["epochs"] = epochs
    if batch_size is not None:
        changes["batch_size"] = batch_size
    return replace_settings(
        training_config or TrainingConfig(), changes, "arguments",
        f", file options {list(READ_OPTIONS)}")


def _validation_pair(validation_data):
    """`(x, y)` of `fit`'s `validation_data`: `(texts, labels)` lists, or
    one path / list of pairs / list of examples."""
    if (isinstance(validation_data, tuple) and len(validation_data) == 2
            and all(isinstance(v, (list, np.ndarray))
                    for v in validation_data)):
        return validation_data
    return validation_data, None


def _history(records, encoded, run_dir):
    """A `keras.callbacks.History` of tfllm's per-epoch records."""
    history = keras.callbacks.History()
    history.epoch = [r["epoch"] - 1 for r in records]
    keys = sorted({k for r in records for k in r if k != "epoch"})
    history.history = {k: [r.get(k) for r in records] for k in keys}
    history.records = records
    history.run_dir = run_dir
    history.training = types.SimpleNamespace(
        num_windows=encoded.num_windows, num_tokens=encoded.num_tokens)
    return history


class TextClassifierMethods:
    """The high-level methods of `TextClassifier`, which inherits them.

    `from_pretrained`, `fit`, `evaluate`, `predict`, `export` and `load`.
    On Python data (texts and labels, `(text, label)` pairs,
    `TextExample`s or a file path), `fit`, `evaluate` and `predict` run
    tfllm's training loop and reports; on tensors, arrays or a
    `tf.data.Dataset` they are Keras' own methods.
    """

    @classmethod
    def from_pretrained(cls, backbone="minilm", labels=None, *,
                        multi_label=False, max_length=128, pooling="mean",
                        dropout=0.1, text_pairs=False,
                        word_splitter="whitespace", thresholds=None,
                        seed=None, peft=None, peft_config=None,
                        load_weights=True):
        """A new classifier on a pretrained backbone, with a random head.

        Args:
            backbone: str. `"minilm"` (offline default), a Hugging Face
                checkpoint folder, a KerasHub preset name or folder (what
                `--backbone` takes; `tfllm.backbones.load_backbone`).
            labels: list of str. The label names, in id order (saved with
                the model; required).
            multi_label: bool. A sigmoid per label; the labels of a text
                are then a list. Default False.
            max_length: int. Longest packed sequence in sub-tokens (capped
                at the backbone's). Default 128.
            pooling: str. `"mean"` (default) or `"pooled"` ([CLS] pooler).
            dropout: float. Before the head. Default 0.1.
            text_pairs: bool. Classify `(text, text_pair)` pairs.
            word_splitter: str. `"whitespace"` or `"cjk_chars"` (Chinese).
            thresholds: list of float or None. Multi-label thresholds
                (None: 0.5 each).
            seed: int or None. If given, `keras.utils.set_random_seed(seed)`
                before building (the head's initial weights and dropout;
                the command line seeds with its `--seed`).
            peft: str or None. A PEFT method (`tfllm.peft.registry.METHODS`:
                lora, adalora, prefix, ...) applied after building.
            peft_config: str, dict or None. The method's settings (as
                `--peft-config`).
            load_weights: bool. False: random backbone weights (tests).

        Returns:
            `TextClassifier`, built in the current `tf.distribute` scope.

        Raises:
            ValueError: no or duplicate labels, a bad setting, an unknown
                PEFT method or setting.
            BackboneNotAvailableError: the backbone cannot be loaded.
        """
        import tensorflow as tf

        from tfllm.models.text_classifier import build_text_classifier

        if not labels:
            raise ValueError("give labels=[...] (the label names in id "
                             "order; tfllm.load_classification_dataset "
                             "returns a dataset's)")
        labels = [str(label) for label in labels]
        duplicates = sorted({n for n in labels if labels.count(n) > 1})
        if duplicates:
            raise ValueError(f"labels {duplicates} appear more than once")
        if seed is not None:
            keras.utils.set_random_seed(seed)
        with tf.distribute.get_strategy().scope():
            model = build_text_classifier(
                backbone, labels, max_length, pooling, dropout, multi_label,
                thresholds, text_pairs, load_weights, word_splitter)
            if peft:
                from tfllm.peft.registry import apply_peft
                from tfllm.peft.registry import make_config
                from tfllm.peft.registry import parse_options

                options = (peft_config if isinstance(peft_config, dict)
                           else parse_options(peft_config))
                apply_peft(model, make_config(peft, options))
        return model

    @classmethod
    def load(cls, path):
        """Loads a trained classifier: a run folder or a `.keras` file.

        Args:
            path: str or path. A run folder (`model.keras` in it) or a
                `.keras` file.

        Returns:
            `TextClassifier`.

        Raises:
            FileNotFoundError: no model file there.
            ValueError: `path` is a SavedModel export (serve or predict it
                with `tfllm.inference.classifier.ClassifierPredictor`), or
                not a text classifier.
        """
        from tfllm.models.task import load_task_model

        path = pathlib.Path(path)
        if path.is_dir() and not (path / "model.keras").is_file() and (
                (path / "saved_model.pb").is_file()
                or any(p.name.isdigit() for p in path.iterdir())):
            raise ValueError(
                f"{path}: a SavedModel export, not a Keras model; predict "
                "with tfllm.inference.classifier.ClassifierPredictor(path) "
                "or `tfllm predict classifier --model PATH`")
        return load_task_model(path, cls)

    def fit(self, x=None, y=None, *args, validation_data=None, epochs=None,
            batch_size=None, callbacks=None, run_dir=None,
            training_config=None, class_weight=None, label_smoothing=0.0,
            monitor=None, dataset=None, augment="none", augment_copies=1,
            augment_prob=0.1, **kwargs):
        """Fine-tunes on texts and labels with tfllm's training loop.

        Given Python data (see `as_examples`), runs
        `tfllm.training.trainer.train`: AdamW with warmup and decay, a
        validation report every epoch, the best epoch's weights kept,
        resumable checkpoints and TensorBoard logs in `run_dir`. Given
        anything else (a `tf.data.Dataset`, tensors, dicts of arrays), it
        is `keras.Model.fit` with the same arguments.

        Args:
            x: texts (with `y`), `(text, label)` pairs, `TextExample`s or a
                file path (CSV, TSV, JSONL, Financial PhraseBank `.txt`, or
                `dataset`'s own layout).
            y: labels of `x` (str; a list of str per text if multi-label).
            validation_data: `(texts, labels)`, pairs, examples or a file
                scored every epoch; None carves a stratified 10% of `x`
                (seeded by `seed`).
            epochs: int or None. Overrides `training_config`'s.
            batch_size: int or None. Overrides `training_config`'s.
            callbacks: list of Keras callbacks added to tfllm's own.
            run_dir: str or path or None. Checkpoints, `metrics.jsonl`,
                `best.weights.h5`, TensorBoard logs, and `model.keras` at
                the end (what `load(run_dir)` reads); a folder holding a
                checkpoint is resumed (a finished one trains nothing, with
                a warning). None: a temporary folder, removed afterwards.
            training_config: `tfllm.TrainingConfig` or None (its
                defaults).
            class_weight: None/`"none"` or `"balanced"` (single-label:
                weights n / (classes * count)).
            label_smoothing: float in [0, 1).
            monitor: str or None. The validation score that picks the best
                epoch: accuracy, macro_f1, weighted_f1 or micro_f1
                (multi-label); None: accuracy (micro_f1 if multi-label).
            dataset: str or None. Read file paths in this known dataset's
                layout (`tfllm.data.classification_datasets.DATASETS`).
            augment: str. `"none"` (default) or `"eda"`: add EDA copies
                (random swap, deletion, insertion; Wei & Zou 2019) of the
                training examples, after validation is set aside
                (`tfllm.data.augmentation.augment_examples`, seeded by
                `seed`).
            augment_copies: int. Augmented copies per example (default 1).
            augment_prob: float. EDA's alpha, the share of words changed
                (default 0.1).
            **kwargs: `TrainingConfig` fields (`learning_rate=3e-5`,
                `seed=1`, ...) and file options (`READ_OPTIONS`:
                text_column, label_column, format, ...).

        Returns:
            `keras.callbacks.History`: `history` maps `loss`,
            `val_accuracy`, `val_macro_f1`, ... to per-epoch lists;
            `records` is tfllm's list of per-epoch dicts, `run_dir` the
            folder (None when temporary), `training` the number of
            training sequences (`num_windows`) and sub-tokens per epoch.

        Raises:
            ValueError: an unknown label (naming the list item, or
                `file:line`), a bad setting.
            TypeError: an unknown keyword argument.
            FileNotFoundError: a file path that does not exist.
        """
        if not is_text_data(x):
            keras_kwargs = dict(kwargs)
            for key, value in (("validation_data", validation_data),
                               ("epochs", epochs),
                               ("batch_size", batch_size),
                               ("class_weight", class_weight)):
                if value is not None:
                    keras_kwargs[key] = value
            extra = list(_EXTRA_CALLBACKS.get())
            if callbacks is not None or extra:
                keras_kwargs["callbacks"] = list(callbacks or []) + extra
            return super().fit(x, y, *args, **keras_kwargs)
        if args:
            raise TypeError("fit(texts, labels, ...): pass the other "
                            "arguments by keyword")
        import tensorflow as tf

        from tfllm.data.bad_rows import BadRows
        from tfllm.data.labels import balanced_class_weights
        from tfllm.data.labels import check_labels
        from tfllm.data.labels import label_ids
        from tfllm.data.pipeline import encode_text_classification
        from tfllm.data.splits import stratified_split
        from tfllm.evaluation.classification_evaluator import (
            evaluate_classifier)
        from tfllm.training import trainer
        from tfllm.training.losses import SmoothedSparseCategoricalCrossentropy

        read_options = {k: kwargs.pop(k) for k in READ_OPTIONS if k in kwargs}
        training = _training_config(training_config, epochs, batch_size,
                                    kwargs)
        class_weight = class_weight or "none"
        if class_weight not in ("none", "balanced"):
            raise ValueError(f"class_weight must be 'none' or 'balanced', "
                             f"not {class_weight!r}")
        if class_weight == "balanced" and self.multi_label:
            raise ValueError("class_weight='balanced' is for single-label "
                             "models")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), not "
                             f"{label_smoothing}")
        monitor = monitor or ("micro_f1" if self.multi_label else "accuracy")
        if monitor not in SCALARS or (
                monitor == "micro_f1" and not self.multi_label):
            raise ValueError(f"monitor {monitor!r}: use accuracy, macro_f1, "
                             "weighted_f1 (or micro_f1 if multi-label)")
        bad_rows = BadRows(read_options.get("skip_bad_rows", False))
        train_examples = check_labels(
            as_examples(self, x, y, "x", dataset, bad_rows, **read_options),
            self.id2label, bad_rows)
        if validation_data is None:
            train_index, validation_index = stratified_split(
                [e.label for e in train_examples], 0.1, training.seed)
            validation = [train_examples[i] for i in validation_index]
            train_examples = [train_examples[i] for i in train_index]
            print(f"carved {len(validation)} validation examples "
                  f"(stratified, fraction 0.1, seed {training.seed})")
        else:
            validation = check_labels(as_examples(
                self, *_validation_pair(validation_data), "validation_data",
                dataset, bad_rows, **read_options), self.id2label, bad_rows)
        if not train_examples or not validation:
            raise ValueError(f"{len(train_examples)} training and "
                             f"{len(validation)} validation examples: "
                             "both need at least one")
        from tfllm.data.augmentation import augment_examples

        train_examples = augment_examples(
            train_examples, augment, augment_copies, augment_prob,
            training.seed, verbose=augment not in (None, "none"))

        labels = label_ids(train_examples, self.id2label, self.multi_label)
        weights = np.ones(len(train_examples), np.float32)
        if class_weight == "balanced":
            weights = balanced_class_weights(labels, len(self.id2label))[
                labels]
        pairs = ([e.text_pair for e in train_examples]
                 if self.text_pairs else None)
        encoded = encode_text_classification(
            self.preprocessor, [e.text for e in train_examples], labels,
            pairs, weights)

        def evaluate(model):
            result = evaluate_classifier(model, validation)
            scalars = {k: result[k] for k in SCALARS if k in result}
            return scalars, {k: result[k] for k in
                             SCALARS + ("report", "most_confused")
                             if k in result}

        # Sum over examples; `train` normalises the weights per optimizer
        # update (tfllm.data.pipeline.normalize_weights): the weighted mean.
        strategy = tf.distribute.get_strategy()
        with strategy.scope():
            if self.multi_label:
                loss = keras.losses.BinaryCrossentropy(
                    from_logits=True, reduction="sum",
                    label_smoothing=label_smoothing)
            elif label_smoothing:
                loss = SmoothedSparseCategoricalCrossentropy(
                    len(self.id2label), label_smoothing, reduction="sum")
            else:
                loss = keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True, reduction="sum")
        temporary = run_dir is None
        folder = pathlib.Path(tempfile.mkdtemp(prefix="tfllm-fit-")
                              if temporary else run_dir)
        token = _EXTRA_CALLBACKS.set(tuple(callbacks or ()))
        try:
            with strategy.scope():
                model, records = trainer.train(
                    self, encoded, training, folder, evaluate, monitor, loss)
        finally:
            _EXTRA_CALLBACKS.reset(token)
            if temporary:
                shutil.rmtree(folder, ignore_errors=True)
        if model is not self:  # resumed from a checkpoint: a new object
            self.set_weights(model.get_weights())
        if not temporary:  # a run folder that `load` reads back
            self.save(folder / "model.keras")
        self._tfllm_fit_texts = (
            [e.text for e in train_examples], [e.text for e in validation])
        return _history(records, encoded, None if temporary else folder)

    def evaluate(self, x=None, y=None, *args, dataset=None, batch_size=None,
                 return_predictions=False, **kwargs):
        """Scores labelled texts: the report the command line writes.

        Given Python data (as `fit`'s `x`, `y`), returns the report of
        `tfllm.evaluation.classification_evaluator.evaluate_classifier`;
        given anything else, it is `keras.Model.evaluate`.

        Args:
            x: see `fit`.
            y: see `fit`.
            dataset: see `fit`.
            batch_size: int or None (64).
            return_predictions: bool. Also return `probabilities` (float32
                `[n, num_labels]`), `predicted` and `gold` label names.
            **kwargs: file options (`READ_OPTIONS`); Keras' `verbose` is
                accepted and ignored.

        Returns:
            dict: `accuracy` (multi-label: exact label set), `macro_f1`,
            `weighted_f1` (`micro_f1`), `report` (per class precision,
            recall, F1, support), `report_text`, `confusion_matrix` and
            `most_confused` (single-label), `num_examples`.

        Raises:
            ValueError: an unknown label (naming the item or `file:line`).
            FileNotFoundError: a file path that does not exist.
        """
        if not is_text_data(x):
            if batch_size is not None:
                kwargs["batch_size"] = batch_size
            return super().evaluate(x, y, *args, **kwargs)
        from tfllm.data.bad_rows import BadRows
        from tfllm.data.labels import check_labels
        from tfllm.evaluation.classification_evaluator import (
            evaluate_classifier)

        read_options = {k: kwargs.pop(k) for k in READ_OPTIONS if k in kwargs}
        kwargs.pop("verbose", None)  # Keras' flag: no progress bar here
        if args or kwargs:
            raise TypeError(f"evaluate(texts, labels): unknown arguments "
                            f"{sorted(kwargs) or args}")
        bad_rows = BadRows(read_options.get("skip_bad_rows", False))
        examples = check_labels(
            as_examples(self, x, y, "x", dataset, bad_rows, **read_options),
            self.id2label, bad_rows)
        result = evaluate_classifier(self, examples, batch_size or 64)
        if not return_predictions:
            result = {k: v for k, v in result.items()
                      if k not in PER_EXAMPLE}
        return result

    def predict(self, x, *args, text_pairs=None, batch_size=None, **kwargs):
        """Label and probabilities of raw texts (or Keras' predict).

        The decisions are those of the serving export and
        `tfllm predict classifier` (`tfllm.export.classifier_serving`):
        the most probable label, and for multi-label models every label
        whose probability reaches its threshold.

        Args:
            x: a str, a list of str, a list of `(text, text_pair)` pairs
                (pair models); anything else goes to `keras.Model.predict`.
            text_pairs: str or list of str, or None: the second texts.
            batch_size: int or None (64 texts per call).

        Returns:
            For a str, one dict; for a list, a list of dicts: `label`
            (str), `probability` (float), `probabilities` (dict label ->
            float, in label order) and, multi-label, `labels` (list of
            str over their thresholds).

        Raises:
            ValueError: pairs missing for a pair model, or given to another.
        """
        if not is_text_data(x) or isinstance(x, os.PathLike):
            if batch_size is not None:
                kwargs["batch_size"] = batch_size
            return super().predict(x, *args, **kwargs)
        from tfllm.inference.classifier import ClassifierPredictor

        single = isinstance(x, str)
        texts = [x] if single else list(
            x.tolist() if isinstance(x, np.ndarray) else x)
        if isinstance(text_pairs, str):
            text_pairs = [text_pairs]
        if texts and not isinstance(texts[0], str):  # (text, pair) items
            text_pairs = [str(t[1]) for t in texts]
            texts = [str(t[0]) for t in texts]
        key = tuple(self.thresholds)
        cached = getattr(self, "_tfllm_predictor", None)
        if cached is None or cached[0] != key:
            cached = (key, ClassifierPredictor(self))
            self._tfllm_predictor = cached
        predictor, size = cached[1], batch_size or 64
        results = []
        for start in range(0, len(texts), size):
            results += predictor(
                texts[start:start + size],
                None if text_pairs is None
                else text_pairs[start:start + size])
        return results[0] if single else results

    def export(self, export_dir="saved_models/classifier",
               format="saved_model", *, version=None, name=None,
               flavours=None, calibration_texts=None, probe_texts=None,
               sequence_length=None, **kwargs):
        """Writes a deployment export; returns its path.

        Args:
            export_dir: str or path. `"saved_model"`: the folder TF Serving
                watches (a new integer version is written in it);
                `"litert"`: the LiteRT bundle folder.
            format: `"saved_model"` (raw-text TF Serving SavedModel,
                `tfllm.export.classifier_serving`), `"litert"` (`.tflite`
                files on token ids with the vocabulary,
                `tfllm.export.exporter.export_model`, as `tfllm export`
                writes them), or a Keras export format (`"tf_saved_model"`,
                ...), passed on to `keras.Model.export`.
            version: int or None. SavedModel version (None: next).
            name: str or None. The model name in the bundle / warm-up
                requests (default: the folder's name).
            flavours: list of str or None. LiteRT flavours
                (`tfllm.export.tflite.FLAVOURS`); None: all but `int16x8`
                when there are calibration texts, else float32, float16
                and dynamic_int8.
            calibration_texts: list of str or None. Calibrate int8 (None:
                the texts of the last `fit`).
            probe_texts: list of str or None. Check every `.tflite` file
                against the Keras model (None: the last `fit`'s
                validation texts, else `calibration_texts`).
            sequence_length: int or None. Fixed TFLite input length.

        Returns:
            `pathlib.Path`: the SavedModel version folder or the bundle.

        Raises:
            ValueError: LiteRT without any texts to probe (or calibrate).
            CollapsedModelError: a LiteRT flavour disagrees with the model.
        """
        if format == "saved_model":
            from tfllm.export.classifier_serving import export_classifier

            return export_classifier(self, export_dir, version=version)
        if format != "litert":
            return super().export(export_dir, format=format, **kwargs)
        from tfllm.export.exporter import export_model
        from tfllm.export.tflite import CALIBRATED
        from tfllm.export.tflite import DEFAULT_FLAVOURS

        fitted = getattr(self, "_tfllm_fit_texts", None) or (None, None)
        calibration = calibration_texts or fitted[0]
        probe = probe_texts or fitted[1] or calibration
        if not probe:
            raise ValueError("export(format='litert') checks every .tflite "
                             "file on texts: give probe_texts (and "
                             "calibration_texts for int8), or fit first")
        if flavours is None:
            flavours = [f for f in DEFAULT_FLAVOURS
                        if calibration or f not in CALIBRATED]
        if not calibration and set(flavours) & set(CALIBRATED):
            raise ValueError(f"flavours {sorted(set(flavours) & set(CALIBRATED))}"
                             " need calibration_texts")
        result = export_model(
            self, name or pathlib.Path(export_dir).name, None, export_dir,
            list(calibration or probe), list(probe), list(flavours),
            sequence_length)
        return pathlib.Path(result["litert"])
