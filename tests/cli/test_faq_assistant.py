import json

import pytest

from tfllm.cli.faq_assistant import main

POSITIVE = ["great movie", "the great plot", "a great movie .", "great",
            "great great", "a great plot", "the great movie", "great ."]
NEGATIVE = ["awful plot", "the awful movie", "awful .", "a plot awful",
            "awful awful", "an awful movie", "the awful plot", "awful"]


@pytest.fixture
def faq(tmp_path):
    path = tmp_path / "faq.csv"
    rows = [f"{t},praise" for t in POSITIVE] + [
        f"{t},complaint" for t in NEGATIVE]
    path.write_text("question,intent\n" + "\n".join(rows) + "\n")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"praise": "Thanks!",
                                   "complaint": "Sorry."}))
    return ["--faq-file", str(path), "--answers-file", str(answers),
            "--validation-fraction", "0.5", "--max-length", "8"]


def test_build_ask_train_evaluate_export(tmp_path, faq, tiny_cls_preset,
                                         capsys, monkeypatch):
    encoder = ["--encoder", str(tiny_cls_preset)]
    folder = main(["build", *faq, *encoder, "--output",
                   str(tmp_path / "a"), "--threshold", "-1"])
    index = json.loads((folder / "index.json").read_text())
    assert index["count"] == 8 and index["backend"] == "exact"

    queries = tmp_path / "q.txt"
    queries.write_text("great plot\n\nawful movie\n")
    capsys.readouterr()
    main(["ask", "--assistant", str(folder), "--input", str(queries)])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["query"] for x in lines] == ["great plot", "awful movie"]
    assert all(x["answer"] in ("Thanks!", "Sorry.") for x in lines)

    run = main(["train", *faq, *encoder, "--output-dir",
                str(tmp_path / "runs"), "--run-name", "r", "--batch-size",
                "4", "--peft", "lora", "--peft-config", "r=2"])
    assert (run / "model.keras").is_file() and (run / "adapter").is_dir()
    summary = json.loads((run / "summary.json").read_text())
    assert 0 <= summary["validation_retrieval_top1_accuracy"] <= 1
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert (saved["backbone"], saved["batch_size"], saved["peft"],
            saved["epochs"], saved["validation_fraction"]) == \
        (str(tiny_cls_preset), 4, "lora", 1, 0.5)
    assert "run_name" not in saved

    report = main(["evaluate", *faq, "--encoder", str(run), "--report",
                   str(tmp_path / "report.json"), "--output",
                   str(tmp_path / "b"), "--k", "3"])
    assert report["queries"] == 8 and report["fit_queries"] == 4
    assert set(report["retrieval_top1_accuracy"]) == {"max", "vote"}
    assert (tmp_path / "report.queries.txt").read_text().count("\n") == 8
    settings = json.loads((tmp_path / "b" / "assistant.json").read_text())
    assert settings["threshold"] == report["retrieval_fallback"]["threshold"]

    path = main(["export", "--assistant", str(tmp_path / "b"),
                 "--export-dir", str(tmp_path / "sm"), "--k", "2"])
    assert (path / "saved_model.pb").is_file()


def test_missing_source_is_a_clear_error(capsys, monkeypatch):
    import sys

    from tfllm.cli.faq_assistant import cli
    from tfllm.data.errors import UserInputError

    with pytest.raises(UserInputError,
                       match="--dataset banking77 or --faq-file"):
        main(["build"])
    monkeypatch.setattr(sys, "argv", ["faq_assistant", "build"])
    with pytest.raises(SystemExit) as stop:
        cli()
    assert stop.value.code == 2
    assert capsys.readouterr().err == \
        "error: give --dataset banking77 or --faq-file FILE\n"


def test_stale_index_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import sys

    from tfllm.cli.faq_assistant import cli
    from tfllm.retrieval.index import VectorIndex

    folder = tmp_path / "faq"
    VectorIndex([[1.0, 0.0]], "minilm", "0" * 64,
                [{"question": "q", "intent": "i", "answer": "a"}]).save(folder)
    (folder / "assistant.json").write_text(
        '{"encoder": "minilm", "threshold": null, "k": 1, '
        '"aggregation": "max"}')

    class Encoder:  # stands in for MiniLM: another vocabulary
        class preprocessor:
            class tokenizer:
                get_vocabulary = staticmethod(lambda: ["[PAD]", "x"])

    monkeypatch.setattr("tfllm.apps.customer_service.load_sentence_encoder",
                        lambda source: Encoder())
    monkeypatch.setattr(sys, "argv", ["faq_assistant", "ask",
                                      "--assistant", str(folder)])
    with pytest.raises(SystemExit) as stop:
        cli()
    assert stop.value.code == 2
    assert "vocabulary of SHA-256 000000000000" in capsys.readouterr().err


def test_a_faq_too_small_for_a_validation_split_is_a_one_line_error(
        tmp_path, capsys, monkeypatch):
    import sys

    from tfllm.cli.faq_assistant import cli

    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer\nwhere is my card,It is on its way.\n"
                   "how do I pay,By card.\n")
    monkeypatch.setattr(sys, "argv", ["faq_assistant", "build", "--faq-file",
                                      str(faq), "--output", str(tmp_path)])
    with pytest.raises(SystemExit) as stop:
        cli()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a validation fraction of 0.1 of 2 "
                          "examples is empty")
    assert "--queries-file" in err and "Traceback" not in err
