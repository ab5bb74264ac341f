"""The NER datasets `train_ner.py --dataset` knows, and how each is read.

| name | format | word splitter | splits |
|---|---|---|---|
| `conll2003` | CoNLL columns, one word per line | `whitespace` | train, validation |
| `cluener2020` | JSON lines, character spans | `cjk_chars` | train, validation |
| `weibo_ner` | character + position digits, BIO | `cjk_chars` | train, validation, test |
| `char_bio` | one character and its BIO tag per line | `cjk_chars` | files given |

Character-labelled data (all but CoNLL) is turned into words by
`tfllm.data.char_spans.to_word_sentences`, with the splitter the exported
model then applies to raw text.
"""

import dataclasses

from tfllm.data.char_bio import WEIBO_FILES
from tfllm.data.char_bio import read_char_bio
from tfllm.data.char_bio import read_weibo_ner
from tfllm.data.char_spans import ConversionReport
from tfllm.data.char_spans import to_word_sentences
from tfllm.data.cluener import CLUENER_FILES
from tfllm.data.cluener import CLUENER_TYPES
from tfllm.data.cluener import read_cluener
from tfllm.data.conll import read_conll
from tfllm.data.locate import find_dataset_dir
from tfllm.data.tagging import build_label_list


@dataclasses.dataclass(frozen=True)
class NerDataset:
    """How one NER dataset is found and read.

    Attributes:
        name: str. `--dataset` value and folder name under the data root.
        files: dict split -> file name in the dataset folder (empty: the
            files must be given explicitly).
        reader: callable `(path, report, max_examples) -> list`, of
            `CharSentence` when
            `char_level`, else of `TaggedSentence`.
        word_splitter: str. Splitter saved with the model
            (`tfllm.preprocessing.word_splitter`).
        char_level: bool. Labels are per character.
        entity_types: tuple of str. The dataset's documented types (its
            SOURCE.md), always in the label list even when a subset of the
            training split lacks one; empty: the types of the training
            split.
    """

    name: str
    files: dict
    reader: object
    word_splitter: str
    char_level: bool
    entity_types: tuple = ()


def _read_conll(path, report=None, max_examples=None):
    sentences = read_conll(path)
    return sentences if max_examples is None else sentences[:max_examples]


NER_DATASETS = {
    "conll2003": NerDataset(
        "conll2003", {"train": "train.txt", "validation": "valid.txt"},
        _read_conll, "whitespace", False),
    "cluener2020": NerDataset(
        "cluener2020", CLUENER_FILES, read_cluener, "cjk_chars", True,
        CLUENER_TYPES),
    "weibo_ner": NerDataset(
        "weibo_ner", WEIBO_FILES, read_weibo_ner, "cjk_chars", True,
        tuple(f"{kind}.{variant}" for kind in ("GPE", "LOC", "ORG", "PER")
              for variant in ("NAM", "NOM"))),
    "char_bio": NerDataset(
        "char_bio", {}, read_char_bio, "cjk_chars", True),
}


def get_ner_dataset(name):
    """The `NerDataset` called `name`; `ValueError` lists the known ones."""
    if name not in NER_DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; expected one of {sorted(NER_DATASETS)}")
    return NER_DATASETS[name]


def ner_label_list(dataset, train_sentences):
    """The ordered label list: the training tags plus the documented types.

    Args:
        dataset: `NerDataset` or its name.
        train_sentences: list of `TaggedSentence`.

    Returns:
        list of str, `tfllm.data.tagging.build_label_list` order.
    """
    if isinstance(dataset, str):
        dataset = get_ner_dataset(dataset)
    documented = [f"B-{t}" for t in dataset.entity_types]
    return build_label_list([s.tags for s in train_sentences] + [documented])


def read_ner_file(dataset, path, report=None, max_examples=None):
    """Reads one file of `dataset` into word-level `TaggedSentence`s.

    Args:
        dataset: `NerDataset` or its name.
        path: str or path.
        report: `ConversionReport` or None; receives resolved spans, split
            words and repaired tags of character-level data.
        max_examples: int or None. Read only the first N sentences; the
            character-level readers stop there, so what follows is
            neither read nor reported.

    Returns:
        list of `TaggedSentence` (`WordSentence` for character-level data).

    Raises:
        DataFormatError: the file is malformed (names file and line).
    """
    if isinstance(dataset, str):
        dataset = get_ner_dataset(dataset)
    report = report if report is not None else ConversionReport()
    sentences = dataset.reader(path, report=report,
                               max_examples=max_examples)
    if not dataset.char_level:
        return sentences
    return to_word_sentences(sentences, dataset.word_splitter, report)


def load_ner_dataset(name, data_dir=None, report=None, max_examples=None):
    """Reads every split of a character-level dataset that is on disk.

    The folder is found by `tfllm.data.locate.find_dataset_dir`
    (`data_dir`, `$TFLLM_DATA_DIR/<name>`, `../shared/data/<name>`).

    Args:
        name: str. `"cluener2020"` or `"weibo_ner"`.
        data_dir: str or None. Explicit folder.
        report: `ConversionReport` or None.
        max_examples: dict split -> int, or None. Sentences read per split
            (e.g. `{"train": 200}`); the rest of that file is not read.

    Returns:
        dict split -> list of `WordSentence`: `train`, `validation`, and
        `test` where the dataset has one.

    Raises:
        FileNotFoundError: no folder holds the training file.
        DataFormatError: a file is malformed (names file and line).
    """
    dataset = get_ner_dataset(name)
    if not dataset.files:
        raise ValueError(
            f"dataset {name!r} has no folder layout; pass its files "
            "(--train-file, --validation-file)")
    folder = find_dataset_dir(name, data_dir, (dataset.files["train"],))
    if folder is None:
        raise FileNotFoundError(
            f"{name} not found: pass --data-dir DIR or set TFLLM_DATA_DIR so "
            f"that $TFLLM_DATA_DIR/{name}/{dataset.files['train']} exists")
    result = {}
    for split, file_name in dataset.files.items():
        path = folder / file_name
        if path.is_file():
            result[split] = read_ner_file(
                dataset, path, report, (max_examples or {}).get(split))
        elif split != "test":
            raise FileNotFoundError(f"{path}: no {split} split in {folder}")
    return result
