"""The tasks of a continual-learning sequence, and their encoding.

A task is a labelled training split and a scoring split with its own label
set: text classification (one label per text, scored by accuracy) or token
classification (IOB2 tags per word, scored by entity-level F1, seqeval
strict mode). Known dataset names load from `../shared/data` (or
`$TFLLM_DATA_DIR`) the way `tfllm train classifier|ner` loads them; any
other texts and labels make a task through `ContinualTask` itself.
"""

import dataclasses
from typing import List, Optional

import numpy as np

from tfllm.data.errors import UserInputError

CLASSIFICATION = "classification"
TOKEN_CLASSIFICATION = "token_classification"
KINDS = (CLASSIFICATION, TOKEN_CLASSIFICATION)


@dataclasses.dataclass
class ContinualTask:
    """One task of a sequence.

    Attributes:
        name: str. Unique in the sequence (the head's and adapter's name).
        kind: str. `"classification"` or `"token_classification"`.
        labels: list of str. The task's label names, in id order (IOB2 tags
            for token classification).
        train_x, eval_x: list of str (texts) or of list of str (words).
        train_y, eval_y: list of str (labels) or of list of str (tags).

    Raises:
        ValueError: unknown kind, lengths that differ, empty splits, or a
            label outside `labels` (its split and position named).
    """

    name: str
    kind: str
    labels: List[str]
    train_x: list
    train_y: list
    eval_x: list
    eval_y: list

    def __post_init__(self):
        if self.kind not in KINDS:
            raise UserInputError(f"task {self.name!r}: kind must be one of "
                             f"{KINDS}, got {self.kind!r}")
        known = set(self.labels)
        for split, x, y in (("train", self.train_x, self.train_y),
                            ("eval", self.eval_x, self.eval_y)):
            if not x:
                raise UserInputError(f"task {self.name!r}: the {split} split "
                                 f"is empty")
            if len(x) != len(y):
                raise UserInputError(f"task {self.name!r}: {split} has "
                                 f"{len(x)} inputs but {len(y)} labels")
            for i, label in enumerate(y):
                values = label if self.kind == TOKEN_CLASSIFICATION \
                    else [label]
                if self.kind == TOKEN_CLASSIFICATION and \
                        len(values) != len(x[i]):
                    raise UserInputError(
                        f"task {self.name!r}: {split} sentence {i} has "
                        f"{len(x[i])} words but {len(values)} tags")
                for value in values:
                    if value not in known:
                        raise UserInputError(
                            f"task {self.name!r}: {split} example {i} has "
                            f"label {value!r}, not one of {self.labels}")


def _subsample(x, y, limit, rng):
    if limit is None or len(x) <= limit:
        return list(x), list(y)
    keep = np.sort(rng.choice(len(x), size=limit, replace=False))
    return [x[i] for i in keep], [y[i] for i in keep]


def load_task(name, data_dir=None, max_train_examples=None,
              max_eval_examples=None, seed=0):
    """A known dataset as a `ContinualTask`, optionally subsampled.

    Args:
        name: str. A classification dataset of
            `tfllm.data.classification_datasets.DATASETS` (`sst2`,
            `fpb-allagree`, `banking77`, `chnsenticorp`, ...; single-label
            ones) or a NER dataset of `tfllm.data.ner_datasets.NER_DATASETS`
            (`conll2003`, `cluener2020`, `weibo_ner`). The scoring split is
            the validation split (carved from train, seed 42, where the
            dataset has none); test splits are not read.
        data_dir: str or None. The dataset's folder (default: found under
            `$TFLLM_DATA_DIR`, then `../shared/data`).
        max_train_examples: int or None. Seeded uniform subsample of the
            training split (None: all).
        max_eval_examples: int or None. The same for the scoring split.
        seed: int. Seeds the subsampling.

    Returns:
        `ContinualTask`.

    Raises:
        ValueError: unknown name, or a multi-label dataset.
        DatasetNotFoundError / FileNotFoundError: no local copy.
        DataFormatError: a malformed file (`file:line`).
    """
    from tfllm.data.classification_datasets import DATASETS
    from tfllm.data.ner_datasets import NER_DATASETS

    rng = np.random.default_rng(seed)
    if name in DATASETS:
        from tfllm.runs.classification import load_classification_dataset

        data = load_classification_dataset(name, data_dir)
        if data.multi_label:
            raise UserInputError(f"{name} is multi-label; continual tasks are "
                             f"single-label classification or NER")
        train = _subsample(data.train.texts, data.train.labels,
                           max_train_examples, rng)
        evaluation = _subsample(data.validation.texts,
                                data.validation.labels, max_eval_examples,
                                rng)
        return ContinualTask(name, CLASSIFICATION, list(data.labels),
                             *train, *evaluation)
    if name in NER_DATASETS:
        from tfllm.runs.ner import load_ner_dataset

        data = load_ner_dataset(name, data_dir)
        train = _subsample([s.words for s in data.train],
                           [s.tags for s in data.train],
                           max_train_examples, rng)
        evaluation = _subsample([s.words for s in data.validation],
                                [s.tags for s in data.validation],
                                max_eval_examples, rng)
        return ContinualTask(name, TOKEN_CLASSIFICATION, list(data.labels),
                             *train, *evaluation)
    known = sorted(DATASETS) + sorted(n for n in NER_DATASETS
                                      if n != "char_bio")
    raise UserInputError(f"unknown dataset {name!r}; expected one of "
                         f"{known} (comma-separated in --tasks)")


@dataclasses.dataclass
class Encoded:
    """A split turned into sub-token examples (one per window for NER).

    Attributes:
        token_ids: list of int32 arrays `[length]`.
        labels: int32 array `[n]` (classification) or list of int32 arrays
            `[length]` (sub-token labels, 0 where unlabelled).
        weights: None, or list of float32 arrays `[length]`: 1 on the
            sub-tokens that carry a word's label.
        task: int. The task's index in the sequence.
        word_window, word_position: NER only, per sentence: the window and
            position whose output predicts each word.
    """

    token_ids: list
    labels: object
    weights: Optional[list]
    task: int
    word_window: Optional[list] = None
    word_position: Optional[list] = None

    def __len__(self):
        return len(self.token_ids)

    def example(self, i):
        """Example `i` as `(token_ids, label, weight, task)`."""
        weight = None if self.weights is None else self.weights[i]
        return (self.token_ids[i], self.labels[i], weight, self.task)


def encode_texts(preprocessor, texts, chunk=512):
    """Sub-token ids of texts through a `TextClassificationPreprocessor`.

    Returns:
        list of int32 arrays (`[CLS] ... [SEP]`, at most its length).
    """
    import tensorflow as tf

    ids = []
    for start in range(0, len(texts), chunk):
        batch = preprocessor(tf.constant(texts[start:start + chunk]))
        ids += [np.asarray(row, np.int32)
                for row in batch["token_ids"].to_list()]
    return ids


def encode_task_split(task, index, text_preprocessor, token_preprocessor,
                      split="train"):
    """Encodes a task's `"train"` or `"eval"` split.

    Args:
        task: `ContinualTask`.
        index: int. The task's position in the sequence.
        text_preprocessor: `TextClassificationPreprocessor` (classification).
        token_preprocessor: `TokenClassificationPreprocessor` (NER).
        split: `"train"` or `"eval"`.

    Returns:
        `Encoded`.
    """
    import tensorflow as tf

    x = task.train_x if split == "train" else task.eval_x
    y = task.train_y if split == "train" else task.eval_y
    label_id = {label: i for i, label in enumerate(task.labels)}
    if task.kind == CLASSIFICATION:
        return Encoded(encode_texts(text_preprocessor, list(x)),
                       np.array([label_id[v] for v in y], np.int32), None,
                       index)
    token_ids, labels, weights, windows, positions = [], [], [], [], []
    for start in range(0, len(x), 256):
        words = tf.ragged.constant(x[start:start + 256], dtype=tf.string)
        tags = tf.ragged.constant(
            [[label_id[t] for t in s] for s in y[start:start + 256]],
            dtype=tf.int32, ragged_rank=1)
        encoding = token_preprocessor(words)
        sub_labels, sub_weights = token_preprocessor.align_labels(
            encoding, tags)
        offset = len(token_ids)
        token_ids += [np.asarray(r, np.int32)
                      for r in encoding["token_ids"].to_list()]
        labels += [np.asarray(r, np.int32) for r in sub_labels.to_list()]
        weights += [np.asarray(r, np.float32) for r in sub_weights.to_list()]
        windows += [np.asarray(r, np.int64) + offset
                    for r in encoding["word_window"].to_list()]
        positions += [np.asarray(r, np.int64)
                      for r in encoding["word_position"].to_list()]
    return Encoded(token_ids, labels, weights, index, windows, positions)
