"""train_ner on Chinese character-labelled data with a Chinese vocabulary."""

import json

import pytest

from tfllm.cli import train_ner
from tfllm.inference.ner import NerPredictor
from tiny import tiny_cjk_backbone
from tiny import tiny_cjk_tokenizer

TRAIN = [
    {"text": "我在北京工作", "label": {"address": {"北京": [[2, 3]]}}},
    {"text": "Google公司在北京", "label": {
        "company": {"Google公司": [[0, 7]]}, "address": {"北京": [[9, 10]]}}},
]
DEV = [{"text": "我在google😀上班，", "label": {
    "company": {"google": [[2, 7]]}}}]


def test_cluener_layout_chinese_vocabulary(tmp_path, capsys):
    preset = tmp_path / "zh_bert"  # a local BERT folder, Chinese vocabulary
    tiny_cjk_backbone().save_to_preset(str(preset))
    tiny_cjk_tokenizer().save_to_preset(str(preset))
    data = tmp_path / "cluener2020"
    data.mkdir()
    for name, records in (("train.json", TRAIN * 4), ("dev.json", DEV)):
        (data / name).write_text("\n".join(
            json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    run_dir = train_ner.main([
        "--dataset", "cluener2020", "--data-dir", str(data),
        "--backbone", str(preset), "--epochs", "1", "--batch-size", "4",
        "--max-length", "8", "--output-dir", str(tmp_path / "runs"),
        "--run-name", "zh", "--export-dir", str(tmp_path / "sm")])
    out = capsys.readouterr().out
    assert "validation: entity-level, seqeval strict IOB2" in out
    labels = json.loads((run_dir / "labels.json").read_text())
    assert len(labels) == 21  # all 10 CLUENER types, not only the 2 seen
    report = json.loads((run_dir / "data_report.json").read_text())
    # dev words: 我 在 google 😀 上 班 ，: 上 and 班 are not in the
    # vocabulary, 😀 neither.
    dev = report["unknown_tokens"]["validation"]
    assert (dev["words"], dev["unknown_words"]) == (7, 3)
    assert (dev["cjk_characters"], dev["unknown_cjk_characters"]) == (4, 2)
    # Half the dev CJK characters are unknown: the report names the
    # Chinese-capable encoder's command.
    assert "50.0% of the CJK characters" in report["advice"]
    assert "--backbone multilingual-e5-small" in report["advice"]
    assert "WARNING: 50.0% of the CJK characters" in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["dataset"] == "cluener2020"
    assert summary["unknown_subtoken_rate"]["validation"] == 3 / 7
    export = tmp_path / "sm" / "1"
    assert (export / "assets" / "word_splitter.txt").read_text() == (
        "cjk_chars\n")
    text = "我在Google北京😀工作"
    [result] = NerPredictor(export)([text])
    assert result["words"] == ["我", "在", "Google", "北", "京", "😀", "工",
                               "作"]
    for entity in result["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"]


def test_dataset_flag_errors():
    with pytest.raises(SystemExit, match="expected one of"):
        train_ner.main(["--dataset", "msra"])
    with pytest.raises(SystemExit, match="needs --train-file"):
        train_ner.main(["--dataset", "char_bio"])
