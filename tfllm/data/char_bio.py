"""Readers for character-per-line BIO files: generic and Weibo NER.

Generic format: one character per line, then whitespace and its tag (the
last whitespace-separated field; columns in between are ignored); a blank
line ends a sentence. The character is the line's first code point, so a
full-width space (U+3000) can be a character too.

Weibo NER (Peng & Dredze 2015; the revised "2nd" annotations of He & Sun
2016, `hltcoe/golden-horse`): `TOKEN<TAB>TAG`, where TOKEN is the character
followed by its 0-based position inside its jieba word (`科0`, `技1`, `p10`);
the digits are stripped. Lost emoji are the two-character placeholder
`\\ufffd\\ufffd` followed by the position. 8 types: PER, ORG, LOC, GPE, each
`.NAM` (named) or `.NOM` (nominal).

Tags are IOB2; an `I-X` that does not continue an `X` entity starts one, as
conlleval reads it (10 in Weibo train, 4 in test), and is reported.
"""

from tfllm.data.char_spans import CharSentence
from tfllm.data.char_spans import ConversionReport
from tfllm.data.char_spans import spans_from_char_tags
from tfllm.data.conll import _decode_lines
from tfllm.data.errors import DataFormatError
from tfllm.data.tagging import split_tag

WEIBO_FILES = {
    "train": "weiboNER_2nd_conll.train",
    "validation": "weiboNER_2nd_conll.dev",
    "test": "weiboNER_2nd_conll.test",
}
WEIBO_PLACEHOLDER = "\ufffd\ufffd"


def _generic_unit(line, path, number):
    fields = line[1:].split()
    if not line[1:2].isspace() or not fields:
        raise DataFormatError(
            path, number, f"expected one character, whitespace and a tag, "
            f"found {line!r}")
    return line[0], fields[-1]


def _weibo_unit(line, path, number):
    fields = line.split("\t")
    if len(fields) != 2:
        raise DataFormatError(
            path, number, f"expected 2 tab-separated columns (character "
            f"with its position digits, tag), found {len(fields)}: {line!r}")
    token, tag = fields
    size = len(WEIBO_PLACEHOLDER) if token.startswith(WEIBO_PLACEHOLDER) else 1
    unit, position = token[:size], token[size:]
    if not position.isdigit() or not position.isascii():
        raise DataFormatError(
            path, number, f"token {token!r}: expected a character followed "
            "by its position digits (e.g. '科0')")
    return unit, tag.strip()


def read_char_bio(path, position_digits=False, named_only=False,
                  report=None, max_examples=None):
    """Reads a character-per-line BIO file.

    Args:
        path: str or path-like (UTF-8, optional BOM, LF or CRLF).
        position_digits: bool. Weibo layout: `CHAR<digits><TAB>TAG`, the
            digits stripped. Default False (generic layout).
        named_only: bool. Map `.NOM` (nominal) tags to `O`, the "named
            entities only" Weibo variant. Default False.
        report: `tfllm.data.char_spans.ConversionReport` or None; receives
            the `I-X` tags read as `B-X` (one `SpanWarning` sums them up).
        max_examples: int or None. Stop after this many sentences: the
            lines after them are neither read nor reported.

    Returns:
        list of `CharSentence`.

    Raises:
        FileNotFoundError: `path` does not exist.
        DataFormatError: not UTF-8, a line without a tag, a tag that is not
            `O`/`B-X`/`I-X`, a Weibo token without position digits, or no
            sentence at all; names `path:line`.
    """
    path = str(path)
    report = report if report is not None else ConversionReport()
    mark = report.mark()
    parse = _weibo_unit if position_digits else _generic_unit
    sentences = []
    units, tags, start = [], [], 0

    def flush():
        if units:
            text, spans = spans_from_char_tags(
                units, tags, path, start, report)
            sentences.append(CharSentence(text, spans, path, start))
        units.clear()
        tags.clear()

    for number, line in enumerate(_decode_lines(path), start=1):
        if max_examples is not None and len(sentences) >= max_examples:
            units.clear()  # the sentence after the last one kept
            break
        if not line.strip():
            flush()
            continue
        unit, tag = parse(line, path, number)
        try:
            _, entity_type = split_tag(tag)
        except ValueError as e:
            raise DataFormatError(path, number, str(e)) from None
        if named_only and entity_type and entity_type.endswith(".NOM"):
            tag = "O"
        if not units:
            start = number
        units.append(unit)
        tags.append(tag)
    flush()
    if not sentences:
        raise DataFormatError(
            path, None, "no sentences found; expected one character and its "
            "tag per line")
    report.warn_since(mark, path)
    return sentences


def read_weibo_ner(path, named_only=False, report=None, max_examples=None):
    """Reads a Weibo NER file; `read_char_bio` with `position_digits`."""
    return read_char_bio(path, position_digits=True, named_only=named_only,
                         report=report, max_examples=max_examples)
