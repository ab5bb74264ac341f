"""CLUENER2020 as a multi-label topic task: the entity types of a sentence.

A stand-in for a Chinese topic classification corpus, of which none is
available offline: each CLUENER sentence is a text, and its labels are the
set of entity types it mentions (10 types, `CLUENER_TYPES`), e.g.
`"《招商银行：浙商银行》发布"` -> `["book", "company"]`. A sentence without
any entity (`"label": {}`) keeps an empty label set: it is a valid example
whose multi-hot target is all zeros, and exact-match accuracy counts it
right only when no type is predicted. (The released train and dev files
have no such sentence.) Nested spans all count: the two `company` spans
inside a `book` title (train line 1507) make the sentence a `company`
sentence too.

Each line is parsed and checked by `tfllm.data.cluener.parse_cluener_line`,
the NER reader's parser, so both tasks accept and reject the same lines.
"""

from tfllm.data.bad_rows import BadRows
from tfllm.data.cluener import CLUENER_TYPES
from tfllm.data.cluener import parse_cluener_line
from tfllm.data.errors import DataFormatError
from tfllm.data.text_files import TextExample
from tfllm.data.text_files import _decode


def read_cluener_types(path, encoding="utf-8", bad_rows=None):
    """Reads a labelled CLUENER2020 file as texts with entity-type sets.

    Blank lines are skipped. Text is stripped of surrounding whitespace.

    Args:
        path: str or path. `train.json` or `dev.json`: JSON Lines,
            `{"text": "...", "label": {TYPE: {SURFACE: [[start, end],
            ...]}}}` with inclusive ends.
        encoding: str. Defaults to UTF-8 (a byte-order mark is skipped).
        bad_rows: `tfllm.data.bad_rows.BadRows` or None (None raises on
            the first bad line).

    Returns:
        list of `TextExample` whose `label` is the sorted list of the
        entity types with at least one span (possibly empty).

    Raises:
        DataFormatError: undecodable bytes (`file:line`) or an empty file;
            and, unless `bad_rows` skips them, a line that is not a JSON
            object with a string `text` and a `label` object, an entity
            type outside `CLUENER_TYPES`, a bad span, or an empty text;
            the message names `file:line` and what was expected.
    """
    bad_rows = bad_rows or BadRows()
    lines = _decode(path, encoding).split("\n")  # JSON strings hold no "\n"
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            text, spans = parse_cluener_line(line, str(path), number,
                                             CLUENER_TYPES)
        except DataFormatError as e:
            bad_rows.report(path, number, e.reason)
            continue
        if not text.strip():
            bad_rows.report(path, number, "empty text")
            continue
        types = sorted({entity_type for _, _, entity_type in spans})
        examples.append(TextExample(text.strip(), types, None, str(path),
                                    number))
    return examples
