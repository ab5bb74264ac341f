"""Reader for CoNLL column files (CoNLL-2003 and the same layout).

Format (Tjong Kim Sang & De Meulder 2003): one word per line, columns
separated by whitespace, the first column the word and the last its tag;
blank lines and `-DOCSTART-` lines separate sentences. Tags may be IOB1 (as
in the original CoNLL-2003 files) or IOB2; both are returned as IOB2.
"""

import dataclasses

from tfllm.data.errors import DataFormatError
from tfllm.data.tagging import iob1_to_iob2
from tfllm.data.tagging import split_tag


@dataclasses.dataclass
class TaggedSentence:
    """One sentence of a token classification file.

    Attributes:
        words: list of str. The words, as in the file.
        tags: list of str. One IOB2 tag per word.
        path: str. The file the sentence came from.
        line: int. 1-based line number of the first word; word `i` is on
            line `line + i`.
    """

    words: list
    tags: list
    path: str = ""
    line: int = 0


def _decode_lines(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = raw.split(b"\n")
    decoded = []
    for number, line in enumerate(lines, start=1):
        try:
            decoded.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise DataFormatError(
                path,
                number,
                f"not valid UTF-8 (byte {line[e.start]:#04x} at column "
                f"{e.start + 1}); expected a UTF-8 text file (convert it "
                "with e.g. `iconv -f latin1 -t utf-8`)",
            ) from None
    return decoded


def read_conll(path):
    """Reads a CoNLL column file into sentences with IOB2 tags.

    Args:
        path: str or path-like. The file to read (UTF-8, optional BOM, LF or
            CRLF line endings).

    Returns:
        list of `TaggedSentence`, in file order.

    Raises:
        FileNotFoundError: `path` does not exist.
        DataFormatError: the file is not UTF-8, is empty or holds no
            sentence, or a line has fewer than two columns or a tag that is
            not `O`/`B-X`/`I-X`. The message names `path:line`.
    """
    path = str(path)
    lines = _decode_lines(path)
    sentences = []
    words, tags, start = [], [], 0

    def flush():
        if words:
            sentences.append(
                TaggedSentence(list(words), iob1_to_iob2(tags), path, start)
            )
        words.clear()
        tags.clear()

    for number, line in enumerate(lines, start=1):
        columns = line.split()
        if not columns:
            flush()
            continue
        if columns[0] == "-DOCSTART-":
            flush()
            continue
        if len(columns) < 2:
            raise DataFormatError(
                path,
                number,
                f"expected at least 2 whitespace-separated columns "
                f"(word ... tag), found {len(columns)}: {line!r}",
            )
        tag = columns[-1]
        try:
            split_tag(tag)
        except ValueError as e:
            raise DataFormatError(path, number, str(e)) from None
        if not words:
            start = number
        words.append(columns[0])
        tags.append(tag)
    flush()
    if not sentences:
        raise DataFormatError(
            path, None, "no sentences found; expected CoNLL columns"
        )
    return sentences


def encode_tags(sentences, id2label):
    """Turns each sentence's tags into label ids.

    Args:
        sentences: list of `TaggedSentence`.
        id2label: list of str, the label list saved with the model.

    Returns:
        list of lists of int.

    Raises:
        DataFormatError: a tag is not in `id2label` (for example an entity
            type the training split never had); names file and line.
    """
    label2id = {label: i for i, label in enumerate(id2label)}
    encoded = []
    for sentence in sentences:
        ids = []
        for i, tag in enumerate(sentence.tags):
            if tag not in label2id:
                raise DataFormatError(
                    sentence.path,
                    sentence.line + i,
                    f"unknown label {tag!r}; the model knows {id2label}",
                )
            ids.append(label2id[tag])
        encoded.append(ids)
    return encoded


def load_conll2003(data_dir=None, splits=("train", "validation")):
    """Loads CoNLL-2003 splits from a local copy, else from TFDS.

    Local files are `train.txt`, `valid.txt` and `test.txt` (CoNLL columns,
    IOB1 or IOB2), found by `tfllm.data.locate.find_dataset_dir`.

    Args:
        data_dir: str or None. Explicit folder (`--data-dir`).
        splits: tuple of `"train"`, `"validation"`, `"test"`.

    Returns:
        dict split name -> list of `TaggedSentence`.

    Raises:
        DatasetNotFoundError: no local copy and TFDS is unavailable/offline.
        DataFormatError: a file is malformed (names file and line).
    """
    from tfllm.data.locate import find_dataset_dir
    from tfllm.data.locate import load_tfds_conll2003

    files = {"train": "train.txt", "validation": "valid.txt",
             "test": "test.txt"}
    folder = find_dataset_dir("conll2003", data_dir, ("train.txt",))
    result = {}
    for split in splits:
        if folder is not None:
            path = folder / files[split]
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path}: no {split} split in {folder} (the CoNLL-2003 "
                    "test split is held back here; pass --test-file)"
                )
            result[split] = read_conll(path)
        else:
            tfds_split = {"validation": "dev"}.get(split, split)
            result[split] = [
                TaggedSentence(words, iob1_to_iob2(tags), f"tfds:{split}", 0)
                for words, tags in load_tfds_conll2003(tfds_split)
            ]
    return result
