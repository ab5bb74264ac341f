"""Character-labelled sentences (Chinese NER) and their conversion to words.

Chinese NER data is labelled per character: CLUENER2020 gives entity spans
as character offsets, Weibo NER and the generic character-per-line format
give one BIO tag per character. tfllm reads all of them into
`CharSentence`s (the text and its entity spans, in Unicode code points,
end exclusive) and converts those into words with the same in-graph word
splitter the exported model uses on raw text
(`tfllm.preprocessing.word_splitter`, `"cjk_chars"`: one word per CJK
character, runs of letters or digits stay words).

Two rules make the conversion exact and never silent:

- Overlapping or nested spans (flat BIO holds one entity per character):
  the longest span is kept; among spans of equal length the earliest
  start, then the type name in sorted order. Every dropped span is counted
  and recorded in a `ConversionReport` naming `file:line`.
- An entity boundary that falls inside a word (an entity "CPL" in
  "CPL2011" is fine, but "ac米兰" in "vsac米兰" cuts the letter run "vsac")
  splits that word at the boundary, so every gold entity keeps exactly its
  characters. Each such split is counted and recorded the same way.

A reader issues one `SpanWarning` per file it reads, with the count and the
first three messages of each kind (not one per line); the run folder's
`data_report.json` holds every message (`ConversionReport.summary`).
"""

import dataclasses
import warnings

from tfllm.data.conll import TaggedSentence
from tfllm.data.errors import DataFormatError


class SpanWarning(UserWarning):
    """Spans were resolved or words split while reading a file: the count
    and the first messages (each naming file:line)."""


@dataclasses.dataclass
class CharSentence:
    """A text with its entity spans in character offsets.

    Attributes:
        text: str. The sentence.
        entities: list of `(start, end, type)` tuples, Unicode code point
            offsets into `text`, end exclusive, sorted by start.
        path: str. The file the sentence came from.
        line: int. 1-based line of the sentence (its first character).
    """

    text: str
    entities: list
    path: str = ""
    line: int = 0


@dataclasses.dataclass
class WordSentence(TaggedSentence):
    """A `TaggedSentence` that also keeps its text and word offsets.

    Attributes:
        text: str. The original sentence.
        offsets: list of `(start, end)`, each word's code point offsets,
            `text[start:end] == words[i]`.
    """

    text: str = ""
    offsets: list = None


@dataclasses.dataclass
class ConversionReport:
    """What reading and converting character-labelled data changed.

    Attributes:
        dropped_spans: list of str, one `file:line: ...` message per
            overlapping span left out.
        split_words: list of str, one message per word split at an entity
            boundary.
        repaired_tags: list of str, one message per `I-X` that did not
            continue an `X` entity and was read as `B-X` (conlleval's rule).
    """

    dropped_spans: list = dataclasses.field(default_factory=list)
    split_words: list = dataclasses.field(default_factory=list)
    repaired_tags: list = dataclasses.field(default_factory=list)

    def summary(self):
        """JSON-able counts, the first 20 and all messages of each kind.

        Returns:
            dict kind -> `{"count": int, "first": [str], "all": [str]}`.
        """
        return {
            name: {"count": len(items), "first": items[:20],
                   "all": list(items)}
            for name, items in dataclasses.asdict(self).items()
        }

    def mark(self):
        """The current length of each list (see `warn_since`)."""
        return {name: len(items)
                for name, items in dataclasses.asdict(self).items()}

    def warn_since(self, mark, source, shown=3):
        """Issues one `SpanWarning` for the messages added since `mark`.

        Args:
            mark: dict from `mark()`, taken before reading `source`.
            source: str. The file (or files) read.
            shown: int. Messages quoted per kind.

        Returns:
            str or None: the warning text (None when nothing was added).
        """
        parts = []
        for name, items in dataclasses.asdict(self).items():
            new = items[mark.get(name, 0):]
            if new:
                parts.append(
                    f"{len(new)} {_KINDS[name]}, e.g. "
                    + "; ".join(new[:shown]))
        if not parts:
            return None
        message = (f"{source}: " + ". ".join(parts)
                   + ". The full list: ConversionReport (a training run "
                   "writes it to data_report.json in its run folder).")
        warnings.warn(message, SpanWarning, stacklevel=3)
        return message


_KINDS = {
    "dropped_spans": "overlapping spans dropped (longest span kept)",
    "split_words": "words split at entity boundaries",
    "repaired_tags": "I-X tags without a preceding X read as B-X",
}


def _warn(report_list, message):
    """Records one conversion message; the reader warns once per file."""
    report_list.append(message)


def resolve_overlaps(spans, path="", line=0, report=None):
    """Keeps a non-overlapping subset of entity spans.

    Rule: the longest span wins; among equal lengths the earliest start,
    then the type name in sorted order. Spans are taken in that order and
    kept unless they overlap one already kept. Identical duplicates count
    as one span and are not reported.

    Args:
        spans: iterable of `(start, end, type)`, end exclusive.
        path, line: where the spans come from (for the report).
        report: `ConversionReport` or None. Each dropped span is appended to
            `report.dropped_spans` (the reader then issues one summary
            `SpanWarning` per file).

    Returns:
        list of `(start, end, type)`, sorted by start.
    """
    report = report if report is not None else ConversionReport()
    unique = sorted(set(spans), key=lambda s: (s[0] - s[1], s[0], s[2]))
    kept = []
    for span in unique:
        clash = next((k for k in kept
                      if span[0] < k[1] and k[0] < span[1]), None)
        if clash is None:
            kept.append(span)
        else:
            _warn(report.dropped_spans,
                  f"{path}:{line}: span {span[2]} [{span[0]}, {span[1]}) "
                  f"overlaps the longer or earlier {clash[2]} "
                  f"[{clash[0]}, {clash[1]}) and was dropped (rule: "
                  "longest span, then earliest start)")
    return sorted(kept)


def to_word_sentences(sentences, word_splitter="cjk_chars", report=None):
    """Converts character-labelled sentences into words with IOB2 tags.

    The words come from `tfllm.preprocessing.word_splitter.split_texts`
    (the serving graph's ops). A word cut by an entity boundary is split
    there (reported); whitespace is dropped. Inside an entity the first
    word gets `B-X`, the others `I-X`; other words get `O`.

    Args:
        sentences: list of `CharSentence` with non-overlapping entities.
        word_splitter: str. `"cjk_chars"` (default) or `"whitespace"`.
        report: `ConversionReport` or None, receives the word splits;
            one `SpanWarning` sums up those of this call.

    Returns:
        list of `WordSentence`.

    Raises:
        DataFormatError: a sentence has no word (empty or only whitespace),
            or an entity covers only whitespace; names file and line.
    """
    from tfllm.preprocessing.word_splitter import split_texts

    report = report if report is not None else ConversionReport()
    mark = report.mark()
    split = split_texts([s.text for s in sentences], word_splitter)
    result = []
    for sentence, words in zip(sentences, split):
        where = f"{sentence.path}:{sentence.line}"
        if not words:
            raise DataFormatError(
                sentence.path, sentence.line,
                f"sentence {sentence.text!r} has no word; expected text "
                "with at least one non-space character")
        cuts = sorted({b for s, e, _ in sentence.entities for b in (s, e)})
        pieces = []
        for word, start, end in words:
            inner = [c for c in cuts if start < c < end]
            if inner:
                _warn(report.split_words,
                      f"{where}: word {word!r} split at entity boundaries "
                      f"{inner} (character offsets)")
            bounds = [start] + inner + [end]
            pieces.extend(zip(bounds[:-1], bounds[1:]))
        tags = ["O"] * len(pieces)
        for start, end, entity_type in sentence.entities:
            inside = [i for i, (a, b) in enumerate(pieces)
                      if a >= start and b <= end]
            if not inside:
                raise DataFormatError(
                    sentence.path, sentence.line,
                    f"entity {entity_type} [{start}, {end}) "
                    f"{sentence.text[start:end]!r} holds no word; expected "
                    "an entity with a non-space character")
            tags[inside[0]] = f"B-{entity_type}"
            for i in inside[1:]:
                tags[i] = f"I-{entity_type}"
        result.append(WordSentence(
            words=[sentence.text[a:b] for a, b in pieces], tags=tags,
            path=sentence.path, line=sentence.line, text=sentence.text,
            offsets=pieces,
        ))
    sources = sorted({s.path for s in sentences if s.path})
    report.warn_since(mark, ", ".join(sources) or "sentences")
    return result


def spans_from_char_tags(units, tags, path="", line=0, report=None):
    """Entity spans of a sentence tagged per character (IOB2 or IOB1).

    Args:
        units: list of str. The characters, one per tag. A unit may hold
            more than one code point (Weibo's `\\ufffd\\ufffd` placeholder);
            its tag then covers all of them.
        tags: list of str, `O`/`B-X`/`I-X`, as long as `units`.
        path, line: where the sentence starts; unit `i` is on line
            `line + i` (for the report).
        report: `ConversionReport` or None. An `I-X` that does not continue
            an `X` entity starts a new one (conlleval's rule) and is
            reported in `report.repaired_tags`.

    Returns:
        `(text, spans)`: the joined text and `(start, end, type)` tuples.
    """
    from tfllm.data.tagging import split_tag

    report = report if report is not None else ConversionReport()
    spans, offset, previous = [], 0, None
    for i, (unit, tag) in enumerate(zip(units, tags)):
        prefix, entity_type = split_tag(tag)
        end = offset + len(unit)
        if prefix == "I" and previous == entity_type:
            spans[-1][1] = end
        elif prefix != "O":
            if prefix == "I":
                report.repaired_tags.append(
                    f"{path}:{line + i}: {tag} does not continue an entity "
                    f"of type {entity_type}; read as B-{entity_type}")
            spans.append([offset, end, entity_type])
        previous = entity_type
        offset = end
    return "".join(units), [tuple(s) for s in spans]
