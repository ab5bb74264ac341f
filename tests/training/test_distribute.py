import json

import pytest

from tfllm.training.distribute import is_chief
from tfllm.training.distribute import make_strategy


def test_chief_selection(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief()
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    for index, chief in ((0, True), (1, False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        assert is_chief() is chief
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": dict(cluster, chief=["localhost:0"]),
         "task": {"type": "worker", "index": 0}}))
    assert not is_chief()


def test_strategy_names(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert make_strategy("auto").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        make_strategy("multi_worker")
    with pytest.raises(ValueError, match="strategy must be one of"):
        make_strategy("tpu")
