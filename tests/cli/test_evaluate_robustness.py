"""`tfllm evaluate robustness`: a saved model, a file, the table and the
JSON (issue 29)."""

import json

import pytest

from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import tiny_token_classifier
from tiny import write_conll

from tfllm.cli import evaluate_robustness


def test_scores_a_saved_ner_model_on_a_file(tmp_path, capsys):
    model = tiny_token_classifier(sequence_length=24)
    model.save(tmp_path / "model.keras")
    data = write_conll(tmp_path / "valid.txt",
                       [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)])
    with pytest.raises(ValueError, match="no run config.json; give --task"):
        evaluate_robustness.main(["--model", str(tmp_path), "--file",
                                  str(data)])
    result = evaluate_robustness.main([
        "--run", str(tmp_path), "--task", "ner", "--data", str(data),
        "--noise", "typo,adversarial", "--rate", "1.0",
        "--adversarial-epsilon", "1e-6", "--adversarial-batch-size", "1"])
    expected = model.evaluate([(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)])
    assert result["clean"]["entity_f1"] == expected["f1"]
    assert result["noise"]["typo"]["changed"] == 15
    # FGM, one chunk per sentence; the flags reach FgmAttack.
    adversarial = result["noise"]["adversarial"]
    assert (adversarial["eligible"], adversarial["changed"]) == (2, 2)
    assert result["options"] == {
        "adversarial": {"epsilon": 1e-6, "batch_size": 1}}
    assert adversarial["scores"] == result["clean"]
    written = json.loads((tmp_path / "robustness.json").read_text())
    assert written["noise"]["typo"]["scores"] == \
        result["noise"]["typo"]["scores"]
    out = capsys.readouterr().out
    assert "2 examples, rate 1.0, seed 0" in out
    assert "typo" in out and "15/15" in out
