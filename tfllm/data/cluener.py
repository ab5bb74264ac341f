"""Reader for CLUENER2020 (Xu et al. 2020, arXiv:2001.04351).

Format: JSON Lines, one object per line,
`{"text": "...", "label": {TYPE: {SURFACE: [[start, end], ...]}}}`, with
0-based character offsets whose end is INCLUSIVE (`text[start:end + 1]` is
the surface string). 10 types: address, book, company, game, government,
movie, name, organization, position, scene. The official test split has no
labels and is not read. Overlapping spans (one nested case in train, line
1507) are resolved by `tfllm.data.char_spans.resolve_overlaps`.
"""

import json

from tfllm.data.char_spans import CharSentence
from tfllm.data.char_spans import ConversionReport
from tfllm.data.char_spans import resolve_overlaps
from tfllm.data.conll import _decode_lines
from tfllm.data.errors import DataFormatError

CLUENER_FILES = {"train": "train.json", "validation": "dev.json"}


def _spans(record, text, path, number):
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


def read_cluener(path, report=None):
    """Reads a labelled CLUENER2020 JSON Lines file.

    Blank lines are skipped. Inclusive end offsets become exclusive ones;
    overlapping spans are resolved (longest first, then earliest start) and
    reported in `report.dropped_spans` with a `SpanWarning`.

    Args:
        path: str or path-like. `train.json` or `dev.json` (UTF-8).
        report: `tfllm.data.char_spans.ConversionReport` or None.

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
    sentences = []
    for number, line in enumerate(_decode_lines(path), start=1):
        if not line.strip():
            continue
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
        spans = _spans(record, text, path, number)
        sentences.append(CharSentence(
            text, resolve_overlaps(spans, path, number, report), path, number
        ))
    if not sentences:
        raise DataFormatError(
            path, None, "no examples found; expected CLUENER JSON lines")
    return sentences
