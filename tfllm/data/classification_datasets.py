"""Named text classification datasets and how to read their files.

`--dataset NAME` reads the files of a known dataset from `--data-dir`,
`$TFLLM_DATA_DIR/<folder>` or `../shared/data/<folder>` (never copied into
the repository). Format quirks are in each folder's SOURCE.md.
"""

import dataclasses
from typing import Optional

from tfllm.data.locate import DatasetNotFoundError
from tfllm.data.locate import find_dataset_dir
from tfllm.data.text_files import read_text_file


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where a known dataset's files are and how to read them.

    Attributes:
        folder: str. Folder name under the data directory.
        train: str. Training file.
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
}


def load_classification_dataset(name, data_dir=None, bad_rows=None):
    """Reads the splits of a known dataset.

    Args:
        name: str. A key of `DATASETS`.
        data_dir: str or None. The dataset's folder; default
            `$TFLLM_DATA_DIR/<folder>`, then `../shared/data/<folder>`.
        bad_rows: `BadRows` or None.

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
    folder = find_dataset_dir(spec.folder, data_dir, (spec.train,))
    if folder is None:
        raise DatasetNotFoundError(
            f"{name}: {spec.train} not found in $TFLLM_DATA_DIR/{spec.folder}"
            f" or ../shared/data/{spec.folder}; pass --data-dir")
    splits = {}
    for split in ("train", "validation", "test"):
        file_name = getattr(spec, split)
        if file_name is None or not (folder / file_name).is_file():
            continue
        splits[split] = read_dataset_file(name, folder / file_name, bad_rows)
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
