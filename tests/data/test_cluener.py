"""CLUENER2020 reader: inclusive ends, nested spans, blank lines, errors."""

import json

import pytest

from tfllm.data.char_spans import ConversionReport
from tfllm.data.char_spans import SpanWarning
from tfllm.data.cluener import read_cluener
from tfllm.data.errors import DataFormatError


def _write(path, records, blank_lines=False):
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    if blank_lines:
        lines = ["", lines[0], "", ""] + lines[1:]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_inclusive_ends_and_blank_lines(tmp_path):
    path = _write(tmp_path / "dev.json", [
        {"text": "叶老桂认为CSOL好，叶老桂说", "label": {
            "name": {"叶老桂": [[0, 2], [11, 13]]}, "game": {"CSOL": [[5, 8]]}}},
        {"text": "浙商银行", "label": {"company": {"浙商银行": [[0, 3]]}}},
    ], blank_lines=True)
    first, second = read_cluener(path)
    assert first.entities == [(0, 3, "name"), (5, 9, "game"),
                              (11, 14, "name")]
    assert [first.text[s:e] for s, e, _ in first.entities] == [
        "叶老桂", "CSOL", "叶老桂"]
    assert (first.line, second.line) == (2, 5)
    assert second.entities == [(0, 4, "company")]


def test_nested_spans_keep_the_longest_and_warn(tmp_path):
    text = "《招商银行：浙商银行》发布"
    path = _write(tmp_path / "train.json", [{"text": text, "label": {
        "book": {"《招商银行：浙商银行》": [[0, 10]]},
        "company": {"招商银行": [[1, 4]], "浙商银行": [[6, 9]]},
        "name": {"发布": [[11, 12]], "布": [[12, 12]]}}}])
    report = ConversionReport()
    with pytest.warns(SpanWarning, match=r"train.json:1: span company"):
        [sentence] = read_cluener(path, report)
    assert sentence.entities == [(0, 11, "book"), (11, 13, "name")]
    assert len(report.dropped_spans) == 3
    assert "[1, 5)" in report.dropped_spans[0]


def test_equal_length_overlap_keeps_the_earliest(tmp_path):
    path = _write(tmp_path / "t.json", [{"text": "北京大学", "label": {
        "organization": {"京大": [[1, 2]]}, "address": {"北京": [[0, 1]]}}}])
    with pytest.warns(SpanWarning):
        [sentence] = read_cluener(path)
    assert sentence.entities == [(0, 2, "address")]


@pytest.mark.parametrize("record, message", [
    ({"text": "北京", "label": {"address": {"北京": [[0, 2]]}}},
     "outside the text of 2 characters"),
    ({"text": "北京", "label": {"address": {"北京": [[0, 0]]}}},
     "is '北' in the text, not '北京'"),
    ({"id": 3, "text": "北京"}, "no 'label' object"),
    ({"label": {}}, "string 'text'"),
])
def test_errors_name_file_and_line(tmp_path, record, message):
    path = _write(tmp_path / "bad.json", [{"text": "好", "label": {}}, record])
    with pytest.raises(DataFormatError, match=f"bad.json:2: .*{message}"):
        read_cluener(path)


def test_not_json_and_empty(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"text": "好", "label": {}}\n{"text": \n')
    with pytest.raises(DataFormatError, match="bad.json:2: not a JSON"):
        read_cluener(path)
    path.write_text("\n\n")
    with pytest.raises(DataFormatError, match="no examples found"):
        read_cluener(path)


def test_one_summary_warning_per_file_not_one_per_line(tmp_path):
    """Six lines with a dropped span each: one SpanWarning with the count,
    the first three messages and where the full list goes; the report
    keeps all six."""
    records = [{"text": "北京大学", "label": {
        "organization": {"北京大学": [[0, 3]]}, "address": {"北京": [[0, 1]]}}}
        for _ in range(6)]
    path = _write(tmp_path / "train.json", records)
    report = ConversionReport()
    with pytest.warns(SpanWarning) as caught:
        sentences = read_cluener(path, report)
    assert len(sentences) == 6
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith(f"{path}: 6 overlapping spans dropped")
    for line in (1, 2, 3):
        assert f"train.json:{line}: span address" in message
    assert "train.json:4:" not in message
    assert "data_report.json" in message
    summary = report.summary()["dropped_spans"]
    assert summary["count"] == 6 and len(summary["all"]) == 6
    assert summary["all"][5].startswith(f"{path}:6: span address")


def test_max_examples_stops_reading(tmp_path):
    """Lines after the first N examples are neither read (a malformed one
    raises nothing) nor reported."""
    records = [{"text": "北京大学", "label": {
        "organization": {"北京大学": [[0, 3]]}, "address": {"北京": [[0, 1]]}}}
        for _ in range(4)]
    path = _write(tmp_path / "train.json", records)
    with open(path, "a", encoding="utf-8") as f:
        f.write("not json\n")
    report = ConversionReport()
    with pytest.warns(SpanWarning, match=r"train.json: 2 overlapping") as w:
        sentences = read_cluener(path, report, max_examples=2)
    assert len(w) == 1
    assert [s.line for s in sentences] == [1, 2]
    assert len(report.dropped_spans) == 2
    with pytest.raises(DataFormatError, match="train.json:5"):
        read_cluener(path)


def test_max_examples_through_load_ner_dataset(tmp_path):
    from tfllm.data.ner_datasets import load_ner_dataset

    folder = tmp_path / "cluener2020"
    folder.mkdir()
    record = {"text": "北京大学", "label": {
        "organization": {"北京大学": [[0, 3]]}, "address": {"北京": [[0, 1]]}}}
    _write(folder / "train.json", [record] * 5)
    _write(folder / "dev.json", [record] * 3)
    report = ConversionReport()
    with pytest.warns(SpanWarning):
        data = load_ner_dataset("cluener2020", folder, report,
                                max_examples={"train": 2})
    assert (len(data["train"]), len(data["validation"])) == (2, 3)
    assert len(report.dropped_spans) == 5
