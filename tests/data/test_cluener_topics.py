"""CLUENER2020 entity types as multi-label topics: labels and bad lines."""

import json

import numpy as np
import pytest

from tfllm.data.bad_rows import BadRows
from tfllm.data.classification_datasets import load_classification_dataset
from tfllm.data.cluener_topics import read_cluener_types
from tfllm.data.errors import DataFormatError
from tfllm.data.labels import build_class_list
from tfllm.data.labels import check_labels
from tfllm.data.labels import label_ids
from tfllm.data.text_files import read_text_file
from tfllm.evaluation.classification_metrics import multi_label_report

RECORDS = [
    {"text": "叶老桂认为CSOL好，叶老桂说", "label": {
        "name": {"叶老桂": [[0, 2], [11, 13]]}, "game": {"CSOL": [[5, 8]]}}},
    # Nested: the company spans inside the book title count too.
    {"text": "《招商银行：浙商银行》发布", "label": {
        "book": {"《招商银行：浙商银行》": [[0, 10]]},
        "company": {"招商银行": [[1, 4]], "浙商银行": [[6, 9]]}}},
    {"text": " 今天天气很好 ", "label": {}},  # no entity: an empty set
    {"text": "浙商银行", "label": {"company": {"浙商银行": [[0, 3]]}}},
]


def _write(path, lines):
    path.write_text("\n".join(
        line if isinstance(line, str) else json.dumps(line,
                                                      ensure_ascii=False)
        for line in lines) + "\n", encoding="utf-8")
    return path


def test_labels_are_the_entity_types_of_each_sentence(tmp_path):
    path = _write(tmp_path / "train.json", RECORDS[:2] + [""] + RECORDS[2:])
    examples = read_cluener_types(path)
    assert [(e.text, e.label, e.line) for e in examples] == [
        ("叶老桂认为CSOL好，叶老桂说", ["game", "name"], 1),
        ("《招商银行：浙商银行》发布", ["book", "company"], 2),
        ("今天天气很好", [], 4),
        ("浙商银行", ["company"], 5),
    ]
    assert examples[0].path == str(path)
    # The same reader behind --format cluener_types.
    assert [e.label for e in read_text_file(path, "cluener_types")] == [
        e.label for e in examples]


def test_empty_label_set_is_an_all_zero_target(tmp_path):
    examples = read_cluener_types(_write(tmp_path / "t.json", RECORDS))
    id2label = build_class_list(examples)
    assert id2label == ["book", "company", "game", "name"]
    assert check_labels(examples, id2label) == examples  # kept, not bad
    gold = label_ids(examples, id2label, multi_label=True)
    np.testing.assert_array_equal(gold, [[0, 0, 1, 1], [1, 1, 0, 0],
                                         [0, 0, 0, 0], [0, 1, 0, 0]])
    # Exact-set accuracy: the empty set is right only when nothing is
    # predicted (row 3 predicts "book", so 2 of 4 sets are exact).
    predicted = gold.copy()
    predicted[2, 0] = 1
    predicted[3] = [0, 1, 1, 0]
    assert multi_label_report(gold, predicted, id2label)["accuracy"] == 0.5


@pytest.mark.parametrize("line, message", [
    ('{"text": "北京", "label": ', r"t.json:2: not a JSON object .*"
     "expected one CLUENER example per line"),
    ({"text": "北京", "label": {"city": {"北京": [[0, 1]]}}},
     r"t.json:2: unknown entity type 'city'; expected one of address, "
     "book, company, game, government, movie, name, organization, "
     "position, scene"),
    ({"text": "北京", "label": {"address": {"北京": [[0, 0]]}}},
     r"t.json:2: address span \[0, 0\] is '北' in the text, not '北京'"),
    ({"text": "北京"}, r"t.json:2: no 'label' object"),
    ({"text": "  ", "label": {}}, r"t.json:2: empty text"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = _write(tmp_path / "t.json", [RECORDS[3], line, RECORDS[0]])
    with pytest.raises(DataFormatError, match=message):
        read_cluener_types(path)
    bad_rows = BadRows(skip=True)
    kept = read_cluener_types(path, bad_rows=bad_rows)
    assert [e.line for e in kept] == [1, 3]
    assert [r["line"] for r in bad_rows.rows] == [2]


def test_empty_and_non_utf8_files(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("\n \n")
    with pytest.raises(DataFormatError, match="empty.json: the file is empty"):
        read_cluener_types(empty)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"text": "ok", "label": {}}\n'
                      b'{"text": "caf\xe9", "label": {}}\n')
    with pytest.raises(DataFormatError,
                       match=r"latin.json:2: not valid utf-8 \(byte 0xe9\)"):
        read_cluener_types(latin)


def test_named_dataset_is_multi_label_cjk_chars(tmp_path):
    _write(tmp_path / "train.json", RECORDS)
    _write(tmp_path / "dev.json", RECORDS[2:])
    data = load_classification_dataset("cluener2020-topics", tmp_path)
    assert set(data) == {"train", "validation"}
    assert [e.label for e in data["validation"]] == [[], ["company"]]
    assert len(data["train"]) == 4
