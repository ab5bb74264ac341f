import numpy as np
import pytest

from tiny_lm import CHATML
from tiny_lm import tiny_bpe_tokens
from tiny_lm import tiny_llama_backbone
from tiny_lm import write_tiny_gguf

from tfllm.checkpoints.gguf import llama_backbone_config
from tfllm.checkpoints.gguf import load_gguf_backbone
from tfllm.checkpoints.gguf import load_gguf_causal_lm
from tfllm.checkpoints.gguf import unpermute_rows


def _logits(backbone, token_ids):
    import keras_hub

    lm = keras_hub.models.Llama3CausalLM(backbone, preprocessor=None)
    token_ids = np.array(token_ids, np.int32)
    return np.asarray(lm({"token_ids": token_ids,
                          "padding_mask": np.ones_like(token_ids)}))


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    source = tiny_llama_backbone()
    path = write_tiny_gguf(
        tmp_path_factory.mktemp("gguf") / "tiny.gguf", source)
    return path, source


def test_gguf_round_trip_gives_the_source_logits(tiny_gguf):
    path, source = tiny_gguf
    loaded, _ = load_gguf_backbone(path)
    assert loaded.layer_norm_epsilon == pytest.approx(1e-5)
    assert not loaded.tie_word_embeddings
    token_ids = [[5, 80, 120, 7, 200, 3], [9, 9, 100, 264, 1, 2]]
    expected = _logits(source, token_ids)
    np.testing.assert_allclose(_logits(loaded, token_ids), expected,
                               atol=1e-5)
    # The check is sensitive: keeping llama.cpp's Q/K row order, or the
    # default epsilon, changes the logits.
    assert np.abs(expected).max() > 1e-3


def test_unpermute_inverts_llama_cpp_permutation():
    from tiny_lm import llama_cpp_permute

    weight = np.arange(3 * 8 * 2, dtype=np.float32).reshape(3 * 8, 2)
    permuted = llama_cpp_permute(weight, 3)
    assert not np.array_equal(permuted, weight)
    np.testing.assert_array_equal(unpermute_rows(permuted, 3), weight)
    # Head 0, head_dim 8: llama.cpp interleaves the two rotary halves.
    assert permuted[:8, 0].tolist() == [0, 8, 2, 10, 4, 12, 6, 14]


def test_gguf_tokenizer_and_chat_template(tiny_gguf):
    path, _ = tiny_gguf
    lm, tokenizer = load_gguf_causal_lm(path)
    tokens = tiny_bpe_tokens()
    assert tokenizer.vocabulary_size() == len(tokens)
    assert (tokenizer.start_token_id, tokenizer.end_token_id) == (1, 2)
    assert tokenizer.chat_template == CHATML
    ids = np.asarray(tokenizer("<|im_start|>hello world")).tolist()
    assert [tokens[i] for i in ids] == ["<|im_start|>", "hello", "Ġworld"]
    assert tokenizer.detokenize(ids[1:]) == "hello world"
    # The file's 'smollm' pre-tokenizer (GPT-2's split, digits one by one)
    # keeps "\n\n" before a word as two tokens although "ĊĊ" is a merge,
    # and splits numbers into digits, as llama.cpp and transformers do.
    ids = np.asarray(tokenizer("hello\n\nworld 42")).tolist()
    assert [tokens[i] for i in ids] == [
        "hello", "Ċ", "Ċ", "world", "Ġ", "4", "2"]
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hello"}])
    assert prompt == ("<|im_start|>user\nhello<|im_end|>\n"
                      "<|im_start|>assistant\n")
    assert lm.backbone.num_layers == 2


def test_config_errors_name_the_file():
    with pytest.raises(ValueError,
                       match="x.gguf: general.architecture is 'gpt2'"):
        llama_backbone_config({"general.architecture": "gpt2"}, "x.gguf")
    with pytest.raises(ValueError, match="llama.block_count missing"):
        llama_backbone_config({"general.architecture": "llama",
                               "llama.embedding_length": 64,
                               "llama.attention.head_count": 4,
                               "llama.vocab_size": 10}, "x.gguf")
    with pytest.raises(FileNotFoundError, match="nothing.gguf"):
        load_gguf_backbone("nothing.gguf")


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not gguf at all")
    with pytest.raises(ValueError, match="bad.gguf: not a readable GGUF"):
        load_gguf_backbone(bad)
