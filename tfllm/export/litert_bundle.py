"""A folder of TFLite models with the vocabulary and settings beside them.

TFLite models take token ids (`tfllm.export.tflite`); this folder carries
what turns text into those ids, so an app or a check can run them:

    <bundle>/
      float32.tflite, float16.tflite, dynamic_int8.tflite, int8.tflite
      vocab.txt          WordPiece vocabulary, one token per line, id order
      labels.txt         label names, id order
      preprocessing.json task, input names, lower-casing, window settings
      export_report.json sizes, input dtypes/shapes, probe agreement
      crf.json           (CRF head only) transition, start and end scores,
                         forbidden IOB2/BIOES moves included, for Viterbi
      span_head.json     (GlobalPointer head only) the head and its entity
                         types; the `.tflite` output is then span scores
                         `[windows, length, length, types]`
      lexicon.txt        (lexicon features only) the lexicon words, one a
                         line, for the `lexicon_ids` input

`LiteRTTask` is the small tokenizer helper: it rebuilds the model's own
tfllm preprocessor (KerasHub `BertTokenizer` over `vocab.txt`, the same
windows, casing and lexicon classes as training; `lexicon.txt` feeds
`tfllm.preprocessing.lexicon`) and runs a `.tflite` file with the
LiteRT interpreter, returning the same logits as the Keras model's
`predict_word_logits` (NER) or `predict_logits` (classification).
"""

import json
import pathlib

import numpy as np
import tensorflow as tf

from tfllm.export.tflite import LiteRTModel
from tfllm.export.tflite import input_names
from tfllm.export.tflite import pad_inputs
from tfllm.utils.atomic import atomic_path

TOKEN_TASK = "token_classification"
TEXT_TASK = "text_classification"
LEXICON_FILE = "lexicon.txt"
SPAN_FILE = "span_head.json"


def task_kind(model):
    """`"token_classification"` or `"text_classification"`."""
    return TOKEN_TASK if hasattr(model, "predict_word_logits") else TEXT_TASK


def preprocessing_settings(model, sequence_length=None):
    """The settings `load_preprocessor` needs, as a JSON-able dict.

    Raises:
        ValueError: the tokenizer is not a WordPiece (BERT-style) one; the
            bundle then cannot rebuild it from `vocab.txt`.
    """
    preprocessor = model.preprocessor
    tokenizer = preprocessor.tokenizer
    if not hasattr(tokenizer, "lowercase"):
        raise ValueError(
            f"{type(tokenizer).__name__}: the LiteRT bundle rebuilds only "
            "WordPiece (BERT-style) tokenizers from vocab.txt")
    settings = {
        "task": task_kind(model),
        "inputs": input_names(model),
        "lowercase": bool(tokenizer.lowercase),
        "strip_accents": bool(getattr(tokenizer, "strip_accents", False)),
        "sequence_length": int(preprocessor.sequence_length),
        "fixed_sequence_length": sequence_length,
    }
    if settings["task"] == TOKEN_TASK:
        settings["window_overlap"] = int(preprocessor.window_overlap)
        settings["casing_features"] = bool(preprocessor.casing_features)
        if getattr(preprocessor, "lexicon_features", None) is not None:
            settings["lexicon"] = LEXICON_FILE
    else:
        settings["word_splitter"] = preprocessor.word_splitter
    return settings


def write_bundle(model, folder, models, reports, sequence_length=None):
    """Writes the bundle folder atomically (it appears only when complete).

    Args:
        model: the Keras task model (labels, tokenizer, settings).
        folder: str or path. Replaced if it exists.
        models: dict flavour -> flatbuffer bytes.
        reports: dict flavour -> report dict (see `convert_checked`).
        sequence_length: int or None, the fixed length of the models.

    Returns:
        `pathlib.Path` of the folder.
    """
    folder = pathlib.Path(folder)
    with atomic_path(folder) as temp:
        temp.mkdir(parents=True)
        for flavour, blob in models.items():
            (temp / f"{flavour}.tflite").write_bytes(blob)
        vocabulary = model.preprocessor.tokenizer.get_vocabulary()
        (temp / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
        (temp / "labels.txt").write_text("\n".join(model.id2label) + "\n")
        words = getattr(model.preprocessor, "lexicon_words", None)
        if words is not None:
            (temp / LEXICON_FILE).write_text(
                "\n".join(words) + "\n", encoding="utf-8")
        settings = preprocessing_settings(model, sequence_length)
        (temp / "preprocessing.json").write_text(
            json.dumps(settings, indent=2) + "\n")
        (temp / "export_report.json").write_text(
            json.dumps(reports, indent=2) + "\n")
        if getattr(model, "crf", None) is not None:
            transitions, start, end = (
                np.asarray(t).tolist()
                for t in model.crf.constrained_transitions())
            (temp / "crf.json").write_text(json.dumps(
                {"transitions": transitions, "start": start, "end": end})
                + "\n")
        if getattr(model, "span_head", False):
            from tfllm.layers.span_decoding import tag_tables
            from tfllm.export.entities import label_tables

            tag_tables(model.id2label)  # IOB2 with B-X and I-X, or raises
            (temp / SPAN_FILE).write_text(json.dumps(
                {"head": model.head,
                 "types": label_tables(model.id2label)[2]}) + "\n")
    return folder


def viterbi(potentials, transitions, start, end):
    """The best label path of one sentence (Viterbi 1967), in NumPy.

    The same path as `tfllm.layers.crf.viterbi_decode` (ties aside) for an
    app that runs the `.tflite` encoder and decodes the CRF itself.

    Args:
        potentials: float `[num_words, num_labels]` word logits.
        transitions: float `[num_labels, num_labels]`, from row label to
            column label; `start`, `end`: float `[num_labels]` (`crf.json`).

    Returns:
        int list of `num_words` label ids (empty for no words).
    """
    potentials = np.asarray(potentials, np.float32)
    if len(potentials) == 0:
        return []
    transitions = np.asarray(transitions, np.float32)
    score = np.asarray(start, np.float32) + potentials[0]
    back = []
    for emission in potentials[1:]:
        candidates = score[:, None] + transitions  # [previous, next]
        back.append(candidates.argmax(0))
        score = candidates.max(0) + emission
    path = [int((score + np.asarray(end, np.float32)).argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return path[::-1]


def load_preprocessor(folder):
    """Rebuilds the tfllm preprocessor of a bundle from its files.

    Returns:
        `TokenClassificationPreprocessor` or `TextClassificationPreprocessor`.
    """
    import keras_hub

    folder = pathlib.Path(folder)
    settings = json.loads((folder / "preprocessing.json").read_text())
    vocabulary = (folder / "vocab.txt").read_text().split("\n")[:-1]
    tokenizer = keras_hub.tokenizers.BertTokenizer(
        vocabulary=vocabulary, lowercase=settings["lowercase"],
        strip_accents=settings["strip_accents"])
    if settings["task"] == TOKEN_TASK:
        from tfllm.preprocessing.token_classification_preprocessor import (
            TokenClassificationPreprocessor,
        )
        lexicon = settings.get("lexicon")  # older bundles: absent
        return TokenClassificationPreprocessor(
            tokenizer, settings["sequence_length"],
            settings["window_overlap"], settings["casing_features"],
            lexicon_features=None if lexicon is None else folder / lexicon)
    from tfllm.preprocessing.text_classification_preprocessor import (
        TextClassificationPreprocessor,
    )
    return TextClassificationPreprocessor(
        tokenizer, settings["sequence_length"],
        settings.get("word_splitter", "whitespace"))  # older bundles: absent


def encode_features(preprocessor, batch, names):
    """Model inputs (ragged int32, `[sequences, (length)]`) of a batch.

    Args:
        preprocessor: a tfllm preprocessor.
        batch: list of word lists (NER) or list of str (classification).
        names: input names to return.

    Returns:
        `(features, encoding)`: dict name -> int32 `tf.RaggedTensor`, and
        the preprocessor's full encoding.
    """
    function = _traced(preprocessor)
    if hasattr(preprocessor, "window_overlap"):
        encoding = function(tf.ragged.constant(
            batch, dtype=tf.string, row_splits_dtype=tf.int64))
    else:
        encoding = function(tf.constant(batch, tf.string))
    token_ids = encoding["token_ids"]
    derived = {"padding_mask": tf.ones_like(token_ids),
               "segment_ids": tf.zeros_like(token_ids)}
    features = {name: encoding[name] if name in encoding else derived[name]
                for name in names}
    return features, encoding


def _traced(preprocessor):
    """The preprocessor as a `tf.function`, traced once, cached on it.

    Eager ragged ops cost hundreds of milliseconds per call; the traced
    graph runs the same ops in about a millisecond.
    """
    function = getattr(preprocessor, "_tfllm_traced", None)
    if function is None:
        if hasattr(preprocessor, "window_overlap"):
            spec = tf.RaggedTensorSpec([None, None], tf.string, 1, tf.int64)
        else:
            spec = tf.TensorSpec([None], tf.string)
        function = tf.function(preprocessor.call, input_signature=[spec])
        preprocessor._tfllm_traced = function
    return function


def dense(features, sequence_length=None):
    """0-padded int32 numpy arrays of ragged features."""
    out = {k: v.to_tensor().numpy().astype(np.int32)
           for k, v in features.items()}
    return out if sequence_length is None else pad_inputs(out,
                                                          sequence_length)


def gather_word_logits(encoding, logits):
    """Each word's logits at its owning window and position (numpy).

    Args:
        encoding: `TokenClassificationPreprocessor` output.
        logits: float `[num_windows, length, num_labels]`.

    Returns:
        list (per sentence) of float32 `[num_words, num_labels]` arrays.
    """
    windows = encoding["word_window"]
    flat = logits[windows.flat_values.numpy(),
                  encoding["word_position"].flat_values.numpy()]
    splits = windows.row_splits.numpy()
    return [flat[a:b] for a, b in zip(splits[:-1], splits[1:])]


def gather_word_spans(encoding, logits):
    """Each sentence's word span scores from span-head outputs (numpy).

    The cell (i, j) of a sentence is read in the window that owns word `i`,
    at both words' first sub-tokens, as
    `TokenClassifier.predict_word_logits` does; cells with `j < i` or `j`
    owned by another window are `-1e4`.

    Args:
        encoding: `TokenClassificationPreprocessor` output.
        logits: float `[num_windows, length, length, num_types]`.

    Returns:
        list (per sentence) of float32 `[num_words, num_words, num_types]`.
    """
    from tfllm.training.global_pointer_loss import NEG_SCORE

    windows = encoding["word_window"]
    flat_window = windows.flat_values.numpy()
    flat_position = encoding["word_position"].flat_values.numpy()
    splits = windows.row_splits.numpy()
    out = []
    for a, b in zip(splits[:-1], splits[1:]):
        w, p = flat_window[a:b], flat_position[a:b]
        scores = np.asarray(logits, np.float32)[w[:, None], p[:, None],
                                                 p[None, :]]
        n = b - a
        valid = (w[:, None] == w[None, :]) & np.triu(np.ones((n, n), bool))
        out.append(np.where(valid[..., None], scores, -NEG_SCORE))
    return out


class LiteRTTask:
    """Runs one `.tflite` model of a bundle on text (the tokenizer helper).

    Args:
        folder: str or path of the bundle.
        flavour: str, e.g. `"int8"` (file `<flavour>.tflite`).
        num_threads: int or None. Interpreter threads.

    Example:
    ```python
    task = LiteRTTask("exports/ner/litert", "int8")
    task.predict([["EU", "rejects", "German", "call"]])  # tags per word
    ```
    """

    def __init__(self, folder, flavour, num_threads=None):
        folder = pathlib.Path(folder)
        self.settings = json.loads((folder / "preprocessing.json").read_text())
        self.labels = (folder / "labels.txt").read_text().split("\n")[:-1]
        self.preprocessor = load_preprocessor(folder)
        self.model = LiteRTModel(folder / f"{flavour}.tflite", num_threads)
        crf = folder / "crf.json"
        self.crf = json.loads(crf.read_text()) if crf.exists() else None
        span = folder / SPAN_FILE
        self.span = json.loads(span.read_text()) if span.exists() else None

    def encode(self, batch):
        """`(dense int32 inputs, encoding)` of a batch of texts/word lists."""
        features, encoding = encode_features(
            self.preprocessor, batch, self.settings["inputs"])
        return dense(features, self.settings["fixed_sequence_length"]), \
            encoding

    def run(self, inputs):
        """Logits of dense inputs; a fixed-length model runs row by row."""
        if self.settings["fixed_sequence_length"] is None:
            return self.model(inputs)
        rows = len(inputs["token_ids"])
        return np.concatenate([
            self.model({k: v[i:i + 1] for k, v in inputs.items()})
            for i in range(rows)], axis=0)

    def logits(self, batch):
        """Word logits per sentence (NER) or `[batch, labels]` (classes)."""
        inputs, encoding = self.encode(batch)
        logits = self.run(inputs)
        if self.settings["task"] == TOKEN_TASK:
            return self.word_logits(encoding, logits)
        return logits

    def word_logits(self, encoding, logits):
        """Per sentence: word logits, or word span scores (span head)."""
        if self.span is not None:
            return gather_word_spans(encoding, logits)
        return gather_word_logits(encoding, logits)

    def decode(self, logits):
        """Label names of `logits` (as returned by `logits`).

        NER: per word, by argmax, or by Viterbi (`viterbi`) over the
        sentence when the bundle has `crf.json`, or the best
        non-overlapping positive spans when it has `span_head.json`
        (`tfllm.layers.span_decoding.numpy_spans_to_tags`);
        classification: per text.
        """
        if self.settings["task"] != TOKEN_TASK:
            return [self.labels[i] for i in np.asarray(logits).argmax(-1)]
        if self.span is not None:
            from tfllm.layers.span_decoding import numpy_spans_to_tags

            return [[self.labels[i] for i in numpy_spans_to_tags(
                x, self.labels)] for x in logits]
        if self.crf is None:
            return [[self.labels[i] for i in x.argmax(-1)] for x in logits]
        return [[self.labels[i] for i in viterbi(
            x, self.crf["transitions"], self.crf["start"], self.crf["end"])]
            for x in logits]

    def predict(self, batch):
        """Label names: per word (NER) or per text (classification)."""
        return self.decode(self.logits(batch))
