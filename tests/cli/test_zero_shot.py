import io
import json

import numpy as np
import pytest

from tiny_lm import tiny_llama_backbone
from tiny_lm import write_tiny_gguf

from tfllm.cli.zero_shot import main
from tfllm.data.errors import DataFormatError
from tfllm.prompting.classifier import ZeroShotClassifier
from tfllm.prompting.classifier import load_scorer
from tfllm.prompting.templates import PromptTemplate

TEXTS = ["hello world", "world world", "hello", "xyz hello", "world",
         "hello hello world", "w", "ll"]
GOLD = ["w", "w", "h", "h", "w", "h", "h", "w"]
FLAGS = ["--labels", "w=world,h=hello", "--template", "say {text}\\n\\nit:"]


@pytest.fixture(scope="module")
def gguf(tmp_path_factory):
    return str(write_tiny_gguf(
        tmp_path_factory.mktemp("zs") / "lm.gguf", tiny_llama_backbone(5)))


def test_report_on_a_labelled_file(gguf, tmp_path, capsys):
    data = tmp_path / "data.tsv"
    data.write_text("text\tlabel\n" + "".join(
        f"{t}\t{g}\n" for t, g in zip(TEXTS, GOLD)))
    report = main(["--model", gguf, "--input", str(data), *FLAGS,
                   "--output-dir", str(tmp_path), "--run-name", "run"])
    classifier = ZeroShotClassifier(load_scorer(gguf), PromptTemplate(
        "say {text}\n\nit:", {"w": ["world"], "h": ["hello"]}))
    predicted, scores = classifier.predict(TEXTS)
    accuracy = np.mean([p == g for p, g in zip(predicted, GOLD)])
    assert report["accuracy"] == pytest.approx(accuracy)
    assert 0 < report["accuracy"] < 1  # both right and wrong answers
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["accuracy"] == pytest.approx(accuracy)
    assert np.sum(saved["confusion_matrix"]) == len(TEXTS)
    from tfllm.config import load_config
    from tfllm.runs.zero_shot import ZeroShotConfig

    saved_config = load_config(tmp_path / "run" / "config.yaml",
                               [ZeroShotConfig])
    assert (saved_config["model"], saved_config["labels"],
            saved_config["template"], saved_config["input"]) == \
        (gguf, "w=world,h=hello", "say {text}\\n\\nit:", str(data))
    assert "run_name" not in saved_config
    png = (tmp_path / "run" / "confusion_matrix.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    lines = (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(l)["predicted"] for l in lines] == predicted
    printed = capsys.readouterr().out.splitlines()
    assert [l.split("\t")[0] for l in printed] == predicted
    assert float(printed[0].split("\t")[1]) == pytest.approx(
        scores[0].max(), abs=1e-4)


def test_stdin_texts_and_calibrated_few_shot(gguf, tmp_path, monkeypatch,
                                             capsys):
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"text": t, "label": g}) + "\n"
                             for t, g in zip(TEXTS, GOLD)))
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n\nworld xyz\n"))
    assert main(["--model", gguf, "--input", "-", *FLAGS, "--shots", "2",
                 "--train-file", str(train), "--calibrate"]) is None
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2
    assert all(l.split("\t")[0] in ("w", "h") for l in printed)


def test_bad_template_and_unknown_gold_label(gguf, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("text,label\nhello,w\nworld,q\n")
    with pytest.raises(SystemExit, match="must contain '{text}'"):
        main(["--model", gguf, "--input", str(data), "--labels", "w,h",
              "--template", "no slot"])
    with pytest.raises(DataFormatError, match=r"data.csv:3: gold label 'q'"):
        main(["--model", gguf, "--input", str(data), *FLAGS,
              "--output-dir", str(tmp_path)])


def test_texts_as_positional_arguments(gguf, capsys):
    """`zero_shot "text" ...` classifies the texts given on the command line
    (it used to fail with "unrecognized arguments")."""
    assert main(["--model", gguf, *FLAGS, "hello world", "ll",
                 "--max-examples", "5"]) is None
    printed = capsys.readouterr().out.splitlines()
    classifier = ZeroShotClassifier(load_scorer(gguf), PromptTemplate(
        "say {text}\n\nit:", {"w": ["world"], "h": ["hello"]}))
    predicted, _ = classifier.predict(["hello world", "ll"])
    assert [l.split("\t")[0] for l in printed] == predicted


def test_texts_and_input_file_together_are_refused(gguf, tmp_path):
    from tfllm.data.errors import UserInputError

    data = tmp_path / "texts.txt"
    data.write_text("hello\n")
    with pytest.raises(UserInputError, match="not both"):
        main(["--model", gguf, *FLAGS, "--input", str(data), "hello"])
