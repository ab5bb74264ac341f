"""The high-level Python API of `TokenClassifier`: build, train, score,
predict, export and load a NER model in a few calls.

    import tfllm
    data = tfllm.load_ner_dataset("conll2003")
    model = tfllm.TokenClassifier.from_pretrained("minilm", data.labels,
                                                  seed=42)
    model.fit(data.train, validation_data=data.validation, epochs=3)
    model.evaluate(data.validation)["f1"]
    model.predict("EU rejects German call .")
    model.export("saved_models/ner")

`fit`, `evaluate` and `predict` keep Keras' behaviour on `tf.data`
datasets, tensors and arrays; on sentences (Python lists or data files) they
run tfllm's training loop (`tfllm.training.train`) and NER scoring
(`tfllm.evaluation.ner_evaluator`). `tfllm train ner` is built on these
methods (`tfllm.runs.ner.run`), so the command line and Python give the same
model for one seed.
"""

import os
import pathlib
import shutil
import tempfile


class FitHistory(list):
    """The per-epoch records of a `TokenClassifier.fit` on sentences.

    A list of dicts, one per epoch (`epoch`, `loss`, `val_entity_f1`,
    `train_tokens_per_second`, ...; `metrics.jsonl` of the run folder).

    Attributes:
        history: dict name -> list of per-epoch values (Keras' `History`
            layout).
        encoded: `tfllm.data.pipeline.EncodedWindows` the model trained on.
        run_dir: `pathlib.Path` of the run folder, or None when `fit` used
            a temporary one (removed at the end).
    """

    encoded = None
    run_dir = None

    @property
    def history(self):
        keys = []
        for record in self:
            keys += [k for k in record if k not in keys]
        return {k: [r.get(k) for r in self] for k in keys}


def _is_path(x):
    return isinstance(x, (str, os.PathLike))


def _is_words(item):
    return isinstance(item, (list, tuple)) and all(
        isinstance(w, str) for w in item)


def _is_sentence_input(x):
    """True for inputs `fit`/`evaluate` read as sentences, not as Keras
    data: a path, or a non-empty list of `TaggedSentence`s, of
    `(words, tags)` pairs, or of word lists."""
    from tfllm.data.conll import TaggedSentence

    if _is_path(x):
        return True
    if not isinstance(x, (list, tuple)) or not x:
        return False
    first = x[0]
    if isinstance(first, TaggedSentence):
        return True
    if _is_words(first):
        return True
    return (isinstance(first, (list, tuple)) and len(first) == 2
            and _is_words(first[0]) and _is_words(first[1]))


def _sniff_format(path):
    """The `NER_DATASETS` name whose reader fits the file at `path`."""
    path = pathlib.Path(path)
    if path.suffix in (".json", ".jsonl"):
        return "cluener2020"
    firsts = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and not parts[0].startswith("-DOCSTART-"):
                firsts.append(parts[0])
            if len(firsts) >= 50:
                break
    if firsts and all(len(w) >= 2 and not w[0].isdigit()
                      and w[1:].isdigit() for w in firsts):
        return "weibo_ner"  # a character then its position digit
    if firsts and all(len(w) == 1 for w in firsts) and any(
            "\u4e00" <= w <= "\u9fff" for w in firsts):
        return "char_bio"
    return "conll2003"


def read_sentences(x, y=None, format=None, name="data"):
    """Sentences from any input `TokenClassifier.fit` accepts.

    Args:
        x: a file path (str or path) in a supported format; a list of
            `TaggedSentence`s; a list of `(words, tags)` pairs; or a list of
            word lists, with `y` their tag lists.
        y: list of tag lists (with word lists in `x`), else None.
        format: str or None. The file's format, as a dataset name of
            `tfllm.data.ner_datasets.NER_DATASETS` (`conll2003`: CoNLL
            columns; `cluener2020`: CLUENER JSON lines; `weibo_ner`;
            `char_bio`: one character and its BIO tag per line). None:
            `.json`/`.jsonl` files are CLUENER, files of single CJK
            characters `char_bio`, others CoNLL.
        name: str. What the data is called in error messages.

    Returns:
        list of `TaggedSentence`; sentences from Python lists get
        `path="<name>"` and `line=` their 1-based index, so an error names
        the sentence.

    Raises:
        FileNotFoundError: no file at the path.
        DataFormatError: a malformed file (names file and line).
        ValueError: a list of another shape, or `y` of another length.
    """
    from tfllm.data.conll import TaggedSentence
    from tfllm.data.ner_datasets import read_ner_file

    if _is_path(x):
        if not pathlib.Path(x).is_file():
            raise FileNotFoundError(f"{x}: no such file")
        return read_ner_file(format or _sniff_format(x), x)
    if not isinstance(x, (list, tuple)) or not x:
        raise ValueError(f"{name}: expected a file path or a non-empty list "
                         f"of sentences, got {type(x).__name__}")
    where = f"<{name}>"
    if y is not None:
        if len(y) != len(x):
            raise ValueError(f"{name}: {len(x)} word lists but {len(y)} tag "
                             "lists")
        pairs = list(zip(x, y))
    elif isinstance(x[0], TaggedSentence):
        return list(x)
    elif _is_words(x[0]) and not (len(x[0]) == 2 and _is_words(x[0][0])):
        raise ValueError(f"{name}: word lists need their tags as y")
    else:
        pairs = x
    sentences = []
    for i, pair in enumerate(pairs, start=1):
        if isinstance(pair, TaggedSentence):
            sentences.append(pair)
            continue
        try:
            words, tags = pair
        except (TypeError, ValueError):
            raise ValueError(f"{name}: sentence {i} is not a (words, tags) "
                             "pair") from None
        if len(words) != len(tags):
            raise ValueError(f"{name}: sentence {i} has {len(words)} words "
                             f"but {len(tags)} tags")
        sentences.append(TaggedSentence(list(words), list(tags), where, i))
    return sentences


def _encode_tags(sentences, id2label):
    """`encode_tags`; a tag outside the label list names the sentence."""
    from tfllm.data.conll import encode_tags
    from tfllm.data.errors import DataFormatError

    try:
        return encode_tags(sentences, id2label)
    except DataFormatError as error:
        if error.path.startswith("<"):  # a Python list: line = sentence
            sentence = (error.line or 1)
            raise ValueError(
                f"{error.path} sentence {sentence}: {error.reason}") from None
        raise


def _training_config(training_config, overrides):
    from tfllm.runs.ner import NerTrainingConfig

    from tfllm.config import replace_settings

    config = (training_config if training_config is not None
              else NerTrainingConfig())
    return replace_settings(config, overrides, "training settings")


class TokenClassifierAPI:
    """The high-level methods of `TokenClassifier`, which inherits them.

    `from_pretrained`, `fit`, `evaluate`, `predict`, `export` and `load`.
    On sentences (Python lists or data files), `fit`, `evaluate` and
    `predict` run tfllm's training loop and NER scoring; on `tf.data`
    datasets, tensors and arrays they are Keras' own methods.

        model = tfllm.TokenClassifier.from_pretrained("minilm", labels)
        model.fit(data.train, validation_data=data.validation, epochs=3)
        model.predict("EU rejects German call .")
    """

    @classmethod
    def from_pretrained(cls, backbone="minilm", labels=None, *, head="crf",
                        max_length=128, window_overlap=None,
                        casing_features=True, dropout=0.1,
                        lexicon_features=None, word_splitter=None,
                        seed=None, load_weights=True, head_size=64):
        """A new NER model on a pretrained encoder, ready to `fit`.

        Args:
            backbone: str. `"minilm"` (offline default), a Hugging Face
                checkpoint folder, a KerasHub preset folder or name: what
                `--backbone` takes (`tfllm.backbones.load_backbone`).
            labels: list of str. The label names in id order, e.g.
                `["O", "B-PER", "I-PER"]` (`tfllm.load_ner_dataset(...)
                .labels`, or `tfllm.data.tagging.build_label_list`).
            head: str. `"crf"` (default; pair it with the default head
                learning rate 1e-3 of `fit`), `"softmax"`, or a span head:
                `"efficient_global_pointer"` (recommended for small
                encoders) or `"global_pointer"` (GlobalPointer, Su et al.
                2022; needs IOB2 labels; nested entities via
                `decode_word_spans`).
            max_length: int. Window length in sub-tokens (default 128;
                capped at the backbone's limit); longer sentences are split
                into overlapping windows.
            window_overlap: int or None. Sub-tokens shared by consecutive
                windows (default `(max_length - 2) // 4`).
            casing_features: bool. Feed each word's casing class to the
                head (default True).
            dropout: float. Head dropout (default 0.1).
            lexicon_features: None, `"jieba"` or a word list path (Chinese
                NER word-boundary features).
            word_splitter: str or None. How raw text is split into words
                by `predict` and the export: `"whitespace"` (default) or
                `"cjk_chars"` (Chinese).
            seed: int or None. If given, `keras.utils.set_random_seed(seed)`
                first, so the new head's weights are reproducible.
            load_weights: bool. False: random backbone weights (tests).
            head_size: int. A span head's start/end vector width
                (default 64).

        Returns:
            `TokenClassifier` with its preprocessor.

        Raises:
            ValueError: no labels, an unknown head, or a bad lexicon.
            BackboneNotAvailableError: the backbone cannot be loaded.
        """
        import keras

        from tfllm.models.token_classifier import HEADS
        from tfllm.models.token_classifier import build_token_classifier

        if not labels:
            raise ValueError("from_pretrained needs labels: the label names "
                             "in id order, e.g. ['O', 'B-PER', 'I-PER']")
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}: {head!r}")
        if seed is not None:
            keras.utils.set_random_seed(seed)
        model = build_token_classifier(
            backbone, list(labels), max_length, window_overlap,
            casing_features, dropout, load_weights=load_weights,
            word_splitter=word_splitter or "whitespace", head=head,
            lexicon_features=lexicon_features, head_size=head_size)
        if not isinstance(model, cls):
            raise TypeError(f"from_pretrained built a {type(model).__name__}"
                            f", not a {cls.__name__}")
        return model

    def fit(self, x=None, y=None, *, validation_data=None, epochs=None,
            batch_size=None, run_dir=None, training_config=None,
            callbacks=None, format=None, label_all_tokens=False,
            augment="none", augment_copies=1, augment_prob=0.3,
            **training_overrides):
        """Trains on sentences with tfllm's loop, or Keras' `fit` on tensors.

        With a `tf.data.Dataset`, tensors, arrays or a dict of them, this
        is `keras.Model.fit` unchanged (the remaining keyword arguments go
        to it). With sentences it encodes them into sub-token windows and
        runs `tfllm.training.train`: AdamW with warmup and decay, a head
        learning rate, the validation entity F1 (seqeval strict) after
        every epoch with the best epoch's weights kept, resumable
        checkpoints and TensorBoard logs in `run_dir`.

        Args:
            x: training sentences: a file path (CoNLL, CLUENER JSON lines,
                character-per-line BIO; see `format`), a list of
                `(words, tags)` pairs, of `TaggedSentence`s, or of word
                lists with `y` their IOB2 tag lists.
            y: tag lists for word lists in `x`; else None.
            validation_data: sentences in the same forms (word lists with
                tags as a `(words_lists, tags_lists)` tuple), scored after
                every epoch; None: no validation, the last epoch is kept.
            epochs: int or None. Overrides `training_config`'s.
            batch_size: int or None. Overrides `training_config`'s (in
                windows).
            run_dir: str, path or None. Run folder (`metrics.jsonl`,
                `best.weights.h5`, `checkpoint/`, TensorBoard logs, and
                `model.keras` at the end, which `load(run_dir)` reads); a
                run folder holding a checkpoint is resumed (a finished one
                trains nothing, with a warning). None: a temporary folder,
                removed at the end.
            training_config: `TrainingConfig` or None
                (`tfllm.runs.ner.NerTrainingConfig()`: head learning rate
                1e-3, 5 epochs, batch 32, learning rate 1e-4, seed 42).
            callbacks: Keras callbacks; only with Keras data (`tf.data`,
                tensors) for now.
            format: str or None. File format of path inputs, as a dataset
                name (`conll2003`, `cluener2020`, `weibo_ner`, `char_bio`);
                None: inferred from the file.
            label_all_tokens: bool. Label every sub-token (B-X becomes I-X
                after the first); default: only each word's first.
            augment: str. `"none"` (default), `"mention_replacement"`,
                `"label_wise_token_replacement"`,
                `"shuffle_within_segments"` or several joined by commas:
                add augmented copies of the training sentences (Dai & Adel
                2020; `tfllm.data.augmentation.augment_sentences`, seeded
                by the training seed). Validation data is never augmented.
            augment_copies: int. Augmented copies per sentence and method
                (default 1).
            augment_prob: float. Per-mention / per-word / per-segment
                probability (default 0.3).
            **training_overrides: `TrainingConfig` fields
                (`learning_rate=`, `head_learning_rate=`, `seed=`, ...).

        Returns:
            `FitHistory`: the list of per-epoch records (Keras' `History`
            with tf.data input).

        Raises:
            ValueError: a tag that is not in the model's labels (names the
                file and line, or the sentence), or malformed lists.
            TypeError: an unknown training setting.
            FileNotFoundError, DataFormatError: a missing or malformed file.
        """
        if not _is_sentence_input(x):
            keras_kwargs = dict(training_overrides)
            for key, value in (("epochs", epochs), ("batch_size", batch_size),
                               ("validation_data", validation_data),
                               ("callbacks", callbacks)):
                if value is not None:
                    keras_kwargs[key] = value
            return super().fit(x, y, **keras_kwargs)
        if callbacks:
            raise ValueError("fit(callbacks=...) is supported with tf.data or "
                             "tensor input only; sentence input trains with "
                             "tfllm.training.train's own callbacks")
        if epochs is not None:
            training_overrides["epochs"] = epochs
        if batch_size is not None:
            training_overrides["batch_size"] = batch_size
        config = _training_config(training_config, training_overrides)
        from tfllm.data.augmentation import augment_sentences

        train = augment_sentences(
            read_sentences(x, y, format, "training data"), augment,
            augment_copies, augment_prob, config.seed,
            verbose=augment not in (None, "none"))
        return self._fit_sentences(
            train,
            self._validation_sentences(validation_data, format),
            config, run_dir, label_all_tokens)

    def _validation_sentences(self, data, format):
        if data is None:
            return None
        if isinstance(data, tuple) and len(data) == 2 and data[0] and \
                _is_words(data[0][0]) and data[1] and _is_words(data[1][0]) \
                and not _is_words(data[0]):
            return read_sentences(data[0], data[1], format, "validation data")
        return read_sentences(data, None, format, "validation data")

    def _fit_sentences(self, train, validation, config, run_dir,
                       label_all_tokens):
        from tfllm.data.pipeline import encode_token_classification
        from tfllm.data.tagging import inside_label_ids
        from tfllm.evaluation.ner_evaluator import evaluate_ner
        from tfllm.training.trainer import train as train_loop

        if label_all_tokens and getattr(self, "span_head", False):
            raise ValueError(
                f"label_all_tokens does not apply to head={self.head!r}: a "
                "span head reads spans between words' first sub-tokens")
        tags = _encode_tags(train, self.id2label)
        if validation is not None:
            _encode_tags(validation, self.id2label)  # fails before training
        encoded = encode_token_classification(
            self.preprocessor, [s.words for s in train], tags,
            inside_label_ids(self.id2label) if label_all_tokens else None)
        if validation is not None:
            monitor, mode = "entity_f1", "max"

            def evaluate(model):
                result = evaluate_ner(
                    model, [s.words for s in validation],
                    [s.tags for s in validation])
                return {"entity_f1": result["f1"]}, {
                    k: result[k] for k in ("entity_strict",
                                           "entity_conlleval")}
        else:  # no validation: each epoch beats the last, the last is kept
            monitor, mode = "optimizer_step", "max"

            def evaluate(model):
                return {"optimizer_step": float(
                    model.optimizer.iterations.numpy())}, {}
        temporary = run_dir is None
        if temporary:
            run_dir = tempfile.mkdtemp(prefix="tfllm-fit-")
        try:
            # Sum over tokens; the pipeline's weights turn it into the token
            # mean of each optimizer update (tfllm.data.pipeline).
            loss = self.training_loss(reduction="sum")
            trained, records = train_loop(
                self, encoded, config, run_dir, evaluate, monitor, loss,
                monitor_mode=mode)
            if trained is not self:  # resumed: a model from the checkpoint
                self.set_weights(trained.get_weights())
            if not temporary:  # a run folder that `load` reads back
                self.save(pathlib.Path(run_dir) / "model.keras")
        finally:
            if temporary:
                shutil.rmtree(run_dir, ignore_errors=True)
        history = FitHistory(records)
        history.encoded = encoded
        history.run_dir = None if temporary else pathlib.Path(run_dir)
        return history

    def evaluate(self, x=None, y=None, *, format=None, batch_size=None,
                 **kwargs):
        """Scores sentences (the CLI's report), or Keras' `evaluate`.

        Args:
            x: sentences in any form `fit` takes (path, `(words, tags)`
                pairs, `TaggedSentence`s, word lists with `y`); or Keras
                data (`tf.data`, tensors), then `keras.Model.evaluate`
                with the remaining arguments.
            y: tag lists for word lists in `x`.
            format: str or None. File format of a path (see `fit`).
            batch_size: int or None. Sentences per prediction batch
                (default 64).

        Returns:
            dict, as `tfllm train ner` writes it
            (`tfllm.evaluation.ner_evaluator.evaluate_ner`): `f1` (entity
            F1, seqeval strict IOB2), `entity_strict`, `entity_conlleval`
            and `token` reports, `predictions` (IOB2 tag lists).

        Raises:
            ValueError: a tag that is not in the model's labels.
        """
        if not _is_sentence_input(x):
            if batch_size is not None:
                kwargs["batch_size"] = batch_size
            return super().evaluate(x, y, **kwargs)
        from tfllm.evaluation.ner_evaluator import evaluate_ner

        sentences = read_sentences(x, y, format, "evaluation data")
        _encode_tags(sentences, self.id2label)
        return evaluate_ner(self, [s.words for s in sentences],
                            [s.tags for s in sentences], batch_size or 64)

    def predict(self, x, batch_size=None, **kwargs):
        """Entities of raw text, tags of word lists, or Keras' `predict`.

        Args:
            x: a str or a list of str (raw text: split into words by the
                model's word splitter, as the export does); a list of word
                lists; or Keras data (`tf.data`, tensors: logits from
                `keras.Model.predict`).
            batch_size: int or None. Texts / sentences per batch (64).

        Returns:
            For one str, a dict; for a list of str, a list of dicts (the
            output of `tfllm predict ner --json`): `words`, `tags` and
            `entities` (`type`, `start`, `end` character offsets, end
            exclusive, `text`). For word lists, a list of IOB2 tag lists.
        """
        if isinstance(x, str) or (isinstance(x, (list, tuple)) and x
                                  and all(isinstance(t, str) for t in x)):
            from tfllm.inference.ner import NerPredictor

            predictor = NerPredictor(self)
            texts = [x] if isinstance(x, str) else list(x)
            step = batch_size or 64
            results = []
            for i in range(0, len(texts), step):
                results += predictor(texts[i:i + step])
            return results[0] if isinstance(x, str) else results
        if isinstance(x, (list, tuple)) and x and _is_words(x[0]):
            from tfllm.evaluation.ner_evaluator import predict_tags

            return predict_tags(self, [list(w) for w in x], batch_size or 64)
        if batch_size is not None:
            kwargs["batch_size"] = batch_size
        return super().predict(x, **kwargs)

    def export(self, export_dir="saved_models/ner", format="saved_model", *,
               calibration_data=None, flavours=None, sequence_length=None,
               model_name=None):
        """Writes a deployable copy of the model; returns its path.

        Args:
            export_dir: str or path. `format="saved_model"`: the folder TF
                Serving watches; a new version subfolder (`1`, `2`, ...) is
                written with a raw-text `serving_default` signature
                (`text` -> words, tags, entities with character offsets).
                `"litert"`: the LiteRT bundle folder (`.tflite` files and
                the vocabulary).
            format: str. `"saved_model"` (default) or `"litert"`.
            calibration_data: list of word lists or sentences (LiteRT):
                calibrate the `int8` flavour and check every flavour
                against the Keras model; None: only the uncalibrated
                flavours (`float32`, `float16`, `dynamic_int8`).
            flavours: list of str or None (LiteRT); see
                `tfllm.export.tflite.FLAVOURS`.
            sequence_length: int or None (LiteRT). Fixed input length.
            model_name: str or None. TF Serving model name for warm-up
                requests (SavedModel); None: no warm-up file.

        Returns:
            `pathlib.Path` of the version folder or bundle.

        Raises:
            ValueError: an unknown format, or calibrated flavours without
                `calibration_data`.
        """
        if format == "saved_model":
            from tfllm.export.ner_serving import export_ner

            return pathlib.Path(export_ner(self, export_dir,
                                           warmup_model_name=model_name))
        if format != "litert":
            raise ValueError(f"format must be 'saved_model' or 'litert': "
                             f"{format!r}")
        from tfllm.export.exporter import export_model
        from tfllm.export.tflite import CALIBRATED
        from tfllm.export.tflite import DEFAULT_FLAVOURS

        items = []
        if calibration_data is not None:
            if (isinstance(calibration_data, (list, tuple))
                    and calibration_data and _is_words(calibration_data[0])):
                items = [list(words) for words in calibration_data]
            else:
                items = [s.words for s in read_sentences(
                    calibration_data, None, None, "calibration data")]
        if flavours is None:
            flavours = [f for f in DEFAULT_FLAVOURS
                        if items or f not in CALIBRATED]
        if not items:
            needs = [f for f in flavours if f in CALIBRATED]
            if needs:
                raise ValueError(f"LiteRT flavours {needs} need "
                                 "calibration_data (training word lists)")
            items = [["calibration"]]
        result = export_model(
            self, model_name or "ner", None, export_dir, items, items,
            list(flavours), sequence_length)
        return pathlib.Path(result["litert"])

    @classmethod
    def load(cls, path):
        """Loads a trained model: a run folder or a `.keras` file.

        Args:
            path: str or path. A run folder (with `model.keras`) or a
                `.keras` file.

        Returns:
            the model (`TokenClassifier`).

        Raises:
            ValueError: `path` is an export folder (SavedModel: use
                `tfllm.inference.ner.NerPredictor(path)` /
                `tfllm predict ner --model PATH`, or
                `tf.saved_model.load`), another kind of model, or corrupt.
            FileNotFoundError: nothing to load at `path`.
        """
        from tfllm.models.task import load_task_model
        from tfllm.inference.ner import find_saved_model

        path = pathlib.Path(path)
        if path.is_dir() and not (path / "model.keras").is_file() and \
                find_saved_model(path) is not None:
            raise ValueError(
                f"{path}: an exported SavedModel, not a Keras model; predict "
                f"with it through tfllm.inference.ner.NerPredictor('{path}') "
                f"or `tfllm predict ner --model {path}`, or load it with "
                "tf.saved_model.load")
        return load_task_model(path, cls)
