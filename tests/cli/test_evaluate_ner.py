"""`tfllm evaluate ner`: the report of TokenClassifier.evaluate, from a
saved model and a file."""

import json

import pytest

from tfllm.cli import evaluate_ner
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import tiny_token_classifier
from tiny import write_conll


def test_evaluate_a_saved_model_on_a_file(tmp_path, capsys):
    model = tiny_token_classifier(sequence_length=8)
    model.save(tmp_path / "model.keras")
    data = write_conll(tmp_path / "valid.txt",
                       [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)])
    output = tmp_path / "out" / "report.json"
    report = evaluate_ner.main(["--model", str(tmp_path), "--file",
                                str(data), "--output", str(output)])
    expected = model.evaluate([(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)])
    assert report["predictions"] == expected["predictions"]
    assert report["f1"] == expected["f1"]
    assert json.loads(output.read_text())["f1"] == report["f1"]
    out = capsys.readouterr().out
    assert f"2 sentences of {data}" in out
    assert f"entity F1 {report['f1']:.4f}" in out
    with pytest.raises(FileNotFoundError, match=r"--file .*nope\.txt: no "
                                                "such file"):
        evaluate_ner.main(["--model", str(tmp_path), "--file",
                           str(tmp_path / "nope.txt")])
