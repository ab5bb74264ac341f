import json

import pytest

from tfllm.utils.results import FIELDS
from tfllm.utils.results import record_result


def test_record_result_keeps_other_keys(tmp_path):
    path = tmp_path / "results.json"
    record_result("a", 0.5, "F1", "cmd a", path, machine="m", date="d",
                  commit="c")
    record_result("b", 3, "s", "cmd b", path)
    record_result("a", 0.75, "F1", "cmd a2", path, machine="m")
    data = json.loads(path.read_text())
    assert sorted(data) == ["a", "b"]
    assert data["a"]["value"] == 0.75 and data["a"]["command"] == "cmd a2"
    assert set(data["b"]) == set(FIELDS)
    with pytest.raises(TypeError):
        record_result("c", "0.5", "F1", "cmd", path)
