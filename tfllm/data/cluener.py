"""Reader for CLUENER2020 (Xu et al. 2020, arXiv:2001.04351).

Format: JSON Lines, one object per line,
`{"text": "...", "label": {TYPE: {SURFACE: [[start, end], ...]}}}`, with
0-based character offsets whose end is INCLUSIVE (`text[start:end + 1]` is
the surface string). 10 types: address, book, company, game, government,
movie, name, organization, position, scene. The official test split has no
labels and is not read. Overlapping spans (one nested case in train, line
1507) are resolved by `tfllm.data.char_spans.resolve_overlaps`.

`parse_cluener_line` checks one line; `read_cluener` (NER) and
`tfllm.data.cluener_topics.read_cluener_types` (the entity types of each
sentence as a multi-label topic task) share it.
"""

import json

from tfllm.data.char_spans import CharSentence
from tfllm.data.char_spans import ConversionReport
from tfllm.data.char_spans import resolve_overlaps
from tfllm.data.conll import _decode_lines
from tfllm.data.errors import DataFormatError

CLUENER_FILES = {"train": "train.json", "validation": "dev.json"}
# The 10 entity types of the release (its SOURCE.md and the paper).
CLUENER_TYPES = ("address", "book", "company", "game", "government",
                 "movie", "name", "organization", "position", "scene")


def _spans(record, text, path, number, entity_types=None):
    labels = record.get("label")
    if labels is None:
        raise DataFormatError(
            path, number, "no 'label' object; expected a labelled CLUENER "
            "example (the official test split is unlabelled)")
    if not isinstance(labels, dict):
        raise DataFormatError(
            path, number, f"'label' is {type(labels).__name__}; expected "
            "{TYPE: {SURFACE: [[start, end], ...]}}")
    spans = []
    for entity_type, surfaces in labels.items():
        if entity_types is not None and entity_type not in entity_types:
            raise DataFormatError(
                path, number, f"unknown entity type {entity_type!r}; "
                f"expected one of {', '.join(entity_types)}")
        if not isinstance(surfaces, dict):
            raise DataFormatError(
                path, number, f"label {entity_type!r} holds "
                f"{type(surfaces).__name__}; expected {{SURFACE: [[start, "
                "end], ...]}}")
        for surface, positions in surfaces.items():
            for position in positions:
                if (not isinstance(position, list) or len(position) != 2
                        or not all(isinstance(x, int) for x in position)):
                    raise DataFormatError(
                        path, number, f"{entity_type} {surface!r}: position "
                        f"{position!r}; expected [start, end] integers")
                start, last = position
                if not 0 <= start <= last < len(text):
                    raise DataFormatError(
                        path, number, f"{entity_type} {surface!r}: span "
                        f"[{start}, {last}] outside the text of "
                        f"{len(text)} characters (ends are inclusive)")
                if text[start:last + 1] != surface:
                    raise DataFormatError(
                        path, number, f"{entity_type} span [{start}, {last}] "
                        f"is {text[start:last + 1]!r} in the text, not "
                        f"{surface!r} (ends are inclusive)")
                spans.append((start, last + 1, entity_type))
    return spans


def parse_cluener_line(line, path, number, entity_types=None):
    """Parses and checks one line of a labelled CLUENER2020 file.

    Args:
        line: str. One JSON object, not blank.
        path: str. The file, for error messages.
        number: int. The 1-based line number, for error messages.
        entity_types: collection of str or None. The allowed keys of
            `label` (e.g. `CLUENER_TYPES`); None allows any.

    Returns:
        `(text, spans)`: the `text` string and a list of
        `(start, end, entity_type)` in code point offsets, end EXCLUSIVE,
        in file order, overlaps not resolved.

    Raises:
        DataFormatError: not a JSON object with a string `text` and a
            `label` object, an entity type outside `entity_types`, a
            position that is not `[start, end]` integers, a span outside
            the text or whose characters differ from its surface string;
            names `path:number`.
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataFormatError(
            path, number, f"not a JSON object ({e.msg} at column "
            f"{e.colno}); expected one CLUENER example per line"
        ) from None
    text = record.get("text") if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise DataFormatError(
            path, number, "expected a JSON object with a string 'text'")
    return text, _spans(record, text, path, number, entity_types)


def read_cluener(path, report=None, max_examples=None):
    """Reads a labelled CLUENER2020 JSON Lines file.

    Blank lines are skipped. Inclusive end offsets become exclusive ones;
    overlapping spans are resolved (longest first, then earliest start) and
    recorded in `report.dropped_spans`, and one `SpanWarning` sums them up.

    Args:
        path: str or path-like. `train.json` or `dev.json` (UTF-8).
        report: `tfllm.data.char_spans.ConversionReport` or None.
        max_examples: int or None. Stop after this many examples: the lines
            after them are neither read nor reported.

    Returns:
        list of `CharSentence` (code point offsets, end exclusive).

    Raises:
        FileNotFoundError: `path` does not exist.
        DataFormatError: not UTF-8, a line that is not a JSON object with
            a string `text` and a `label` object, a span outside the text
            or whose characters differ from its surface string, or no
            example at all; names `path:line`.
    """
    path = str(path)
    report = report if report is not None else ConversionReport()
    mark = report.mark()
    sentences = []
    for number, line in enumerate(_decode_lines(path), start=1):
        if max_examples is not None and len(sentences) >= max_examples:
            break
        if not line.strip():
            continue
        text, spans = parse_cluener_line(line, path, number)
        sentences.append(CharSentence(
            text, resolve_overlaps(spans, path, number, report), path, number
        ))
    if not sentences:
        raise DataFormatError(
            path, None, "no examples found; expected CLUENER JSON lines")
    report.warn_since(mark, path)
    return sentences
