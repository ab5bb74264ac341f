"""The lean Llama decoding step equals KerasHub's `call_with_cache`."""

import keras
import keras_hub
import numpy as np
import pytest

from tiny_lm import tiny_llama_backbone

from tfllm.generation import GenerationConfig
from tfllm.generation import generate
from tfllm.generation import llama_step
from tfllm.peft import apply_peft
from tfllm.peft.base import override_method
from tfllm.peft.lora import LoraConfig
from tfllm.peft.prefix import PrefixConfig
from tfllm.peft.prompt import PromptConfig

PROMPTS = [[5, 6, 7], [8, 9, 10, 11, 12], [13]]


def _lm(tie_word_embeddings):
    backbone = tiny_llama_backbone(seed=3,
                                   tie_word_embeddings=tie_word_embeddings)
    return keras_hub.models.Llama3CausalLM(backbone, preprocessor=None)


@pytest.fixture(scope="module", params=[False, True], ids=["untied", "tied"])
def lm(request):
    return _lm(request.param)


def _keras_hub_path(monkeypatch):
    monkeypatch.setattr(llama_step, "supports", lambda causal_lm: False)


def test_forward_equals_call_with_cache_for_prefill_and_one_step(lm):
    assert llama_step.supports(lm)
    tokens = np.array([[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]],
                      np.int32)
    backbone = lm.backbone
    shape = (2, backbone.num_layers, 2, 6, backbone.num_key_value_heads,
             backbone.hidden_dim // backbone.num_query_heads)
    weights = llama_step.decoder_weights(lm)
    # Prefill the first 4 positions, then one step at position 4.
    ours, our_cache = llama_step.forward_with_cache(
        lm, weights, tokens[:, :4], np.zeros(shape, np.float32), 0)
    theirs, _, their_cache = lm.call_with_cache(
        tokens[:, :4], np.zeros(shape, np.float32), 0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(our_cache, their_cache, rtol=1e-5, atol=1e-6)
    ours, our_cache = llama_step.forward_with_cache(
        lm, weights, tokens[:, 4:5], our_cache, 4)
    theirs, _, their_cache = lm.call_with_cache(
        tokens[:, 4:5], their_cache, 4)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(our_cache, their_cache, rtol=1e-5, atol=1e-6)
    # And the full forward pass of the backbone at position 4.
    full = lm({"token_ids": tokens[:, :5],
               "padding_mask": np.ones_like(tokens[:, :5])})
    np.testing.assert_allclose(ours[:, 0], np.asarray(full)[:, 4],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("config", [
    GenerationConfig(max_new_tokens=6),
    GenerationConfig(max_new_tokens=5, strategy="beam", num_beams=3),
], ids=["greedy", "beam"])
def test_generate_gives_keras_hub_tokens(lm, config, monkeypatch):
    ours = generate(lm, PROMPTS, config)
    _keras_hub_path(monkeypatch)
    theirs = generate(lm, PROMPTS, config)
    assert ours == theirs
    assert [len(row) for row in ours] == [config.max_new_tokens] * 3


def test_stop_token_and_fixed_seed_sampling(lm):
    greedy = generate(lm, PROMPTS, GenerationConfig(max_new_tokens=6))
    stop = greedy[0][2]
    stopped = generate(lm, PROMPTS, GenerationConfig(max_new_tokens=6),
                       stop_token_ids=[stop])
    assert stopped[0] == greedy[0][:greedy[0].index(stop)]
    sampled = GenerationConfig(max_new_tokens=6, strategy="sample",
                               temperature=2.0, seed=7)
    first = generate(lm, PROMPTS, sampled)
    assert first == generate(lm, PROMPTS, sampled)
    assert all(0 <= t < lm.backbone.vocabulary_size
               for row in first for t in row)


def test_changed_weights_are_used_at_the_next_call(monkeypatch):
    lm = _lm(False)
    config = GenerationConfig(max_new_tokens=6)
    before = generate(lm, PROMPTS, config)
    head = lm.backbone.token_embedding.reverse_embeddings
    rng = np.random.default_rng(0)
    head.assign(rng.normal(size=head.shape).astype("float32"))
    after = generate(lm, PROMPTS, config)
    assert after != before
    _keras_hub_path(monkeypatch)
    assert after == generate(lm, PROMPTS, config)


def test_prompts_of_other_lengths_share_one_compiled_width(monkeypatch):
    import importlib

    module = importlib.import_module("tfllm.generation.generate")
    widths = []
    real_decoder = module._decoder

    def recording_decoder(*args, **kwargs):
        decode = real_decoder(*args, **kwargs)

        def record(token_ids, *rest):
            widths.append(int(token_ids.shape[1]))
            return decode(token_ids, *rest)
        return record

    monkeypatch.setattr(module, "_decoder", recording_decoder)
    lm = _lm(False)
    config = GenerationConfig(max_new_tokens=4)
    short = generate(lm, [[5, 6, 7]], config)
    long = generate(lm, [[5, 6, 7, 8, 9, 10, 11]], config)
    # Buffers of 7 and 11 slots both become one 64-slot XLA program.
    assert widths == [64, 64]
    monkeypatch.setattr(module, "_decoder", real_decoder)
    monkeypatch.setattr(llama_step, "supports", lambda causal_lm: False)
    assert generate(lm, [[5, 6, 7]], config) == short
    assert generate(lm, [[5, 6, 7, 8, 9, 10, 11]], config) == long
    assert widths == [64, 64]  # the KerasHub path keeps exact widths


def test_models_it_does_not_compute_exactly_keep_keras_hub_path():
    lm = _lm(False)
    assert llama_step.supports(lm)
    gpt2 = keras_hub.models.GPT2CausalLM(
        keras_hub.models.GPT2Backbone(
            vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=16,
            intermediate_dim=32, max_sequence_length=32),
        preprocessor=None)
    assert not llama_step.supports(gpt2)
    lora = _lm(False)
    apply_peft(lora, LoraConfig(r=2), verbose=False)
    assert not llama_step.supports(lora)
    keras.config.set_dtype_policy("bfloat16")
    try:
        half = _lm(False)
    finally:
        keras.config.set_dtype_policy("float32")
    assert not llama_step.supports(half)


def test_quantizing_after_a_call_retraces_instead_of_reading_old_weights(
        monkeypatch):
    lm = _lm(False)
    config = GenerationConfig(max_new_tokens=6)
    generate(lm, PROMPTS, config)  # traces the lean float32 loop
    lm.quantize("int8")
    assert not llama_step.supports(lm)
    after = generate(lm, PROMPTS, config)
    from tfllm.generation.generate import _DECODERS

    assert len(_DECODERS[lm]) == 1  # the float32 loop was dropped
    ids = np.array([PROMPTS[1]], np.int32)
    logits = np.asarray(lm({"token_ids": ids,
                            "padding_mask": np.ones_like(ids)}))
    assert after[1][0] == int(np.argmax(logits[0, -1]))  # int8 weights used
    _DECODERS.clear()
    assert after == generate(lm, PROMPTS, config)


def test_prefix_tuning_added_after_a_call_is_not_skipped(monkeypatch):
    lm = _lm(False)
    config = GenerationConfig(max_new_tokens=6)
    before = generate(lm, PROMPTS, config)  # the lean loop
    apply_peft(lm, PrefixConfig(num_virtual_tokens=2, init_stddev=1.0),
               verbose=False)
    # Prefix tuning replaces `_compute_attention` on layer instances: the
    # lean step, which never calls it, must not be taken.
    assert not llama_step.supports(lm)
    after = generate(lm, PROMPTS, config)
    assert after != before
    monkeypatch.setattr(llama_step, "supports", lambda causal_lm: False)
    from tfllm.generation.generate import _DECODERS

    _DECODERS.clear()
    assert after == generate(lm, PROMPTS, config)


def test_prompt_tuning_and_replaced_methods_keep_keras_hub_path():
    lm = _lm(False)
    apply_peft(lm, PromptConfig(num_virtual_tokens=2), verbose=False)
    assert not llama_step.supports(lm)
    lm = _lm(False)
    attention = lm.backbone.transformer_layers[1]._self_attention_layer
    override_method(attention, "_compute_attention",
                    attention._compute_attention)
    assert not llama_step.supports(lm)
