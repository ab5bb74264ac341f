import time

import pytest

from tfllm.backbones import BackboneNotAvailableError
from tfllm.backbones import load_backbone
from tfllm.backbones import resolve_preset


def test_offline_hub_name_fails_at_once(monkeypatch):
    monkeypatch.setenv("TFLLM_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(BackboneNotAvailableError, match="offline.*--backbone minilm"):
        resolve_preset("bert_base_en_uncased")
    assert time.perf_counter() - start < 1.0


def test_folder_without_config(tmp_path):
    with pytest.raises(BackboneNotAvailableError, match="has no config.json"):
        resolve_preset(str(tmp_path))
    with pytest.raises(BackboneNotAvailableError, match="not a directory"):
        resolve_preset(str(tmp_path / "missing"))


def test_local_preset_folder(tiny_preset):
    backbone, tokenizer = load_backbone(str(tiny_preset))
    assert backbone.num_layers == 2
    assert tokenizer.token_to_id("lyon") == 13


def test_corrupt_checkpoint_names_folder(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=f"could not load backbone from {tmp_path}"):
        load_backbone(str(tmp_path))


def test_offline_default_is_the_packaged_minilm():
    backbone, tokenizer = load_backbone("minilm", load_weights=False)
    assert (backbone.num_layers, backbone.hidden_dim) == (6, 384)
    assert tokenizer.lowercase
    assert tokenizer.token_to_id("[CLS]") == 101
