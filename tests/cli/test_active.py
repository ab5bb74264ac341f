"""`tfllm active select` / `add-labels`: the human-labelling round trip
(issue 31, active learning), on a banking77-layout file written here."""

import json

import pytest

from tfllm.active.loop import ActiveLearningState
from tfllm.cli.active import main
from tfllm.data.errors import DataFormatError
from tfllm.data.errors import UserInputError


def _dataset(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rows = [f"card text {i},card" if i % 2 else f"cash text {i},cash"
            for i in range(20)]
    (folder / "train.csv").write_text("text,category\n" + "\n".join(rows)
                                      + "\n")
    return folder


def test_select_then_add_labels(tmp_path):
    data = _dataset(tmp_path)
    run = tmp_path / "run"
    batch = tmp_path / "batch.jsonl"
    flags = ["--dataset", "banking77", "--data-dir", str(data),
             "--seed-size", "4", "--run-dir", str(run), "--seed", "3"]
    sent = main(["select", *flags, "--output", str(batch)])
    rows = [json.loads(line) for line in batch.read_text().splitlines()]
    assert [r["id"] for r in rows] == sent and len(set(sent)) == 4
    assert all(r["label"] == "" and r["text"] for r in rows)
    with pytest.raises(UserInputError, match="not labelled yet"):
        main(["select", *flags, "--output", str(batch)])
    rows[0]["label"] = "card"
    batch.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match=r"batch.jsonl:2: id .* empty"):
        main(["add-labels", "--batch", str(batch), "--run-dir", str(run)])
    for r in rows:
        r["label"] = "cash"
    batch.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["add-labels", "--batch", str(batch), "--run-dir",
                 str(run)]) == 4
    state = ActiveLearningState.load(run)
    assert state.labelled == [[i, "cash"] for i in sent]
    assert state.pending == [] and state.round == 1
    # The pool must be the same one every round (ids are its positions).
    other = [f if f != "3" else "4" for f in flags]
    with pytest.raises(UserInputError, match=r"seed 3 \(now 4\)"):
        main(["select", *other, "--output", str(batch)])
