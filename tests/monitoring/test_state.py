"""The checkpoint file and the truncation of outputs on resume."""

import json

import pytest

from tfllm.monitoring.state import load_state
from tfllm.monitoring.state import output_lengths
from tfllm.monitoring.state import restore_outputs
from tfllm.monitoring.state import save_state


def test_save_load_round_trip_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "state.json"
    assert load_state(path) is None
    save_state(path, {"positions": {"a": {"offset": 3, "line": 1}}})
    assert load_state(path) == {"positions": {"a": {"offset": 3, "line": 1}},
                                "version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        load_state(path)
    path.write_text("{half")
    with pytest.raises(ValueError, match="state.json"):
        load_state(path)


def test_restore_outputs_drops_lines_after_the_checkpoint(tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text('{"a": 1}\n')
    lengths = output_lengths([alerts, tmp_path / "missing.jsonl"])
    assert lengths == {str(alerts): 9, str(tmp_path / "missing.jsonl"): 0}
    with open(alerts, "a") as f:
        f.write('{"a": 2}\n')  # written, then the run died
    assert restore_outputs(lengths) == 9
    assert alerts.read_text() == '{"a": 1}\n'
    alerts.write_text("")
    with pytest.raises(ValueError, match="changed outside"):
        restore_outputs(lengths)
