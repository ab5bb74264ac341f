"""The settings a run writes into its folder."""

import dataclasses
import json

from tfllm.runs.run_config import write_run_config


@dataclasses.dataclass
class First:
    corpus: str = "a.txt"
    epochs: int = 1


@dataclasses.dataclass
class Second:
    learning_rate: float = 1e-3


def test_config_json_holds_the_chosen_settings(tmp_path):
    written = write_run_config(tmp_path / "run", First(epochs=3), Second(),
                               json_settings=(First(epochs=3),))
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == {
        "corpus": "a.txt", "epochs": 3}
    assert written[0] == tmp_path / "run" / "config.json"
    try:
        from tfllm.config import save_config  # noqa: F401
    except ImportError:
        assert len(written) == 1
    else:  # config.yaml: every settings object, for --config
        assert written[1] == tmp_path / "run" / "config.yaml"
        text = written[1].read_text()
        assert "learning_rate" in text and "epochs" in text


def test_config_json_merges_every_setting_by_default(tmp_path):
    write_run_config(tmp_path, First(), Second(learning_rate=0.5))
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "corpus": "a.txt", "epochs": 1, "learning_rate": 0.5}
