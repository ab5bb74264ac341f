"""evaluate_classifier: the report of TextClassifier.evaluate, from flags."""

import json

import pytest

from tfllm.cli import evaluate_classifier
from tfllm.data.errors import DataFormatError
from tiny import CLS_GOLD
from tiny import CLS_TEXTS
from tiny import tiny_text_classifier
from tiny import write_csv


def test_scores_a_file_and_writes_the_report(tmp_path, capsys):
    model = tiny_text_classifier()
    path = tmp_path / "model.keras"
    model.save(path)
    test = write_csv(tmp_path / "test.tsv", list(zip(CLS_TEXTS, CLS_GOLD)),
                     header=("sentence", "gold"))
    test.write_text(test.read_text().replace(",", "\t"))
    output = tmp_path / "report.json"
    report = evaluate_classifier.main([
        "--model", str(path), "--test-file", str(test), "--text-column",
        "sentence", "--label-column", "gold", "--output", str(output)])
    predicted = [r["label"] for r in model.predict(CLS_TEXTS)]
    accuracy = sum(p == g for p, g in zip(predicted, CLS_GOLD)) / 8
    assert report["accuracy"] == pytest.approx(accuracy)
    assert json.loads(output.read_text())["accuracy"] == report["accuracy"]
    assert f"accuracy {accuracy:.4f}" in capsys.readouterr().out

    bad = write_csv(tmp_path / "bad.csv", [("great", "neutral")])
    with pytest.raises(DataFormatError, match=rf"{bad}:2: unknown label"):
        evaluate_classifier.main(["--model", str(path), "--test-file",
                                  str(bad)])
