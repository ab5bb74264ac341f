"""predict_classifier: texts as arguments, --input FILE or stdin."""

import io
import json
import sys

import pytest

from tfllm.cli import predict_classifier
from tiny import CLS_LABELS
from tiny import tiny_text_classifier


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("cls") / "model.keras"
    tiny_text_classifier().save(path)
    return path


def test_input_file_stdin_and_arguments_give_the_same_labels(
        saved_model, tmp_path, monkeypatch, capsys):
    texts = ["great movie", "awful plot"]
    given = predict_classifier.main(["--model", str(saved_model)] + texts)
    capsys.readouterr()
    lines = tmp_path / "texts.txt"
    lines.write_text("great movie\n\nawful plot\n")
    output = tmp_path / "out.jsonl"
    from_file = predict_classifier.main([
        "--model", str(saved_model), "--input", str(lines),
        "--output", str(output)])
    assert from_file == given and len(given) == 2
    assert all(r["label"] in CLS_LABELS for r in given)
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert [w["text"] for w in written] == texts
    assert [w["label"] for w in written] == [r["label"] for r in given]
    monkeypatch.setattr(sys, "stdin", io.StringIO("great movie\nawful plot\n"))
    assert predict_classifier.main(
        ["--model", str(saved_model), "--input", "-"]) == given
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out[-2:]] == [
        r["label"] for r in given]


def test_a_missing_input_file_is_one_error_line(saved_model, tmp_path,
                                                monkeypatch, capsys):
    missing = tmp_path / "none.txt"
    monkeypatch.setattr(sys, "argv", ["predict_classifier", "--model",
                                      str(saved_model), "--input",
                                      str(missing)])
    with pytest.raises(SystemExit):
        predict_classifier.cli()
    assert capsys.readouterr().err.strip() == (
        f"error: --input {missing}: no such file")
