"""Human-labelling batch files and learning-curve helpers (issue 31,
active learning)."""

import json

import pytest

from tfllm.active.batch_files import read_labelled_batch
from tfllm.active.batch_files import write_batch
from tfllm.active.curves import labels_to_reach
from tfllm.active.curves import plot_learning_curves
from tfllm.data.errors import DataFormatError


def _fill(path, labels):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row, label in zip(rows, labels):
        row["label"] = label
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_round_trip(tmp_path):
    path = write_batch(tmp_path / "batch.jsonl", [5, 9], ["hi", "bye"])
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {"id": 5, "text": "hi", "label": ""}
    _fill(path, ["greet", "leave"])
    assert read_labelled_batch(path, ["greet", "leave"], [5, 9]) == {
        5: "greet", 9: "leave"}


@pytest.mark.parametrize("lines, message", [
    (['{"id": 5, "label": "greet"}', '{"id": 9, "label": ""}'],
     ":2: id 9 has an empty label"),
    (['{"id": 5, "label": "wave"}'], ":1: unknown label 'wave'"),
    (['{"id": 5, "label": "greet"}', '{"id": 5, "label": "greet"',],
     ":2: not valid JSON"),
    (['{"id": 5, "label": "greet"}', '{"id": 7, "label": "greet"}'],
     ":2: id 7 was not in the batch"),
    (['{"id": 5, "label": "greet"}'], "batch.jsonl: 1 ids of the batch "
                                      "have no line: [9]"),
    (['["greet"]'], ":1: expected a JSON object"),
])
def test_errors_name_file_and_line(tmp_path, lines, message):
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as error:
        read_labelled_batch(path, ["greet", "leave"], [5, 9])
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_labels_to_reach_and_plot(tmp_path):
    curve = [{"labels": 100, "metric": 0.5}, {"labels": 200, "metric": 0.7},
             {"labels": 300, "metric": 0.65}, {"labels": 400, "metric": 0.8}]
    assert labels_to_reach(curve, 0.7) == 200
    assert labels_to_reach(curve, 0.66) == 200
    assert labels_to_reach(curve, 0.75) == 400
    assert labels_to_reach(curve, 0.81) is None
    png = plot_learning_curves({"margin": curve, "random": curve[:2]},
                               tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
