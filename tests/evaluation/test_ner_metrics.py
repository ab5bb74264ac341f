"""Outside case BR-02: strict IOB2 vs conlleval-style scores."""

import pytest

from tfllm.evaluation.ner_metrics import entity_report
from tfllm.evaluation.ner_metrics import format_report
from tfllm.evaluation.ner_metrics import token_report

GOLD = [["B-PER", "I-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "O"],
        ["O", "B-MISC", "O", "B-PER"]]
PRED = [["I-PER", "I-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "O", "O"],
        ["O", "I-MISC", "O", "B-PER"]]


def test_br02_lenient_and_strict():
    lenient = entity_report(GOLD, PRED, mode="conlleval")["micro avg"]
    assert round(lenient["precision"], 4) == 0.8
    assert round(lenient["recall"], 4) == 0.8
    assert round(lenient["f1-score"], 4) == 0.8
    strict = entity_report(GOLD, PRED, mode="strict")
    assert strict["mode"] == "strict"
    micro = strict["micro avg"]
    assert (round(micro["precision"], 4), round(micro["recall"], 4),
            round(micro["f1-score"], 4)) == (0.6667, 0.4, 0.5)
    assert micro["support"] == 5
    per_type = {t: round(strict[t]["f1-score"], 4)
                for t in ("LOC", "MISC", "ORG", "PER")}
    assert per_type == {"LOC": 1.0, "MISC": 0.0, "ORG": 0.0, "PER": 0.6667}
    assert round(strict["macro avg"]["f1-score"], 4) == 0.4167


def test_br02_report_case():
    gold, pred = [["B-PHONE", "I-PHONE"]], [["I-PHONE", "I-PHONE"]]
    assert entity_report(gold, pred, "conlleval")["micro avg"]["f1-score"] == 1.0
    assert entity_report(gold, pred, "strict")["micro avg"]["f1-score"] == 0.0


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1"):
        entity_report([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="mode must be one of"):
        entity_report(GOLD, PRED, mode="lenient")


def test_token_report_has_micro_macro_weighted():
    report = token_report(GOLD, PRED, labels=["O", "B-PER", "I-PER"])
    assert list(report)[-3:] == ["micro avg", "macro avg", "weighted avg"]
    assert report["O"]["support"] == 5
    assert report["B-PER"]["recall"] == 0.5
    text = format_report(report, "token-level")
    assert "precision" in text and "weighted avg" in text
    all_labels = token_report(GOLD, PRED)
    correct = sum(g == p for gs, ps in zip(GOLD, PRED) for g, p in zip(gs, ps))
    assert all_labels["micro avg"]["f1-score"] == pytest.approx(correct / 13)
