"""LiteRT causal-LM export: prefill/decode signatures over a KV cache.

Outside case BR-19 (rotary position and cache slot per decode step, unused
slots masked): the case's toy values are checked on the exported attention
itself, and the product test (a tiny Llama's LiteRT logits equal the Keras
no-cache forward at every decoded position, for a prompt shorter than the
prefill bucket, exactly one bucket, longer than the largest bucket, and up
to the last cache slot) is below.
"""

import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tests.tiny_lm import tiny_llama_backbone
from tfllm.export import litert_causal_lm
from tfllm.inference.litert_lm import CacheFullError
from tfllm.inference.litert_lm import LiteRTCausalLM

MAX_LENGTH = 16
BUCKETS = (4, 8)


def _interpreter(content):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=content, num_threads=1)


class _ToyAttention(tf.Module):
    """BR-19's toy: one head, head dim 2, no projections; the product's
    `rotate_half` and `cached_attention` with angle = position."""

    def __init__(self, slots, rope_offset=0):
        super().__init__()
        self.slots = slots
        self.rope_offset = rope_offset

    def function(self, n):
        @tf.function(input_signature=[
            tf.TensorSpec([n, 1, 2], tf.float32, "q"),
            tf.TensorSpec([n, 1, 2], tf.float32, "k"),
            tf.TensorSpec([n, 1, 2], tf.float32, "v"),
            tf.TensorSpec([n], tf.int32, "input_pos"),
            tf.TensorSpec([1, self.slots, 2], tf.float32, "cache_k"),
            tf.TensorSpec([1, self.slots, 2], tf.float32, "cache_v")])
        def step(q, k, v, input_pos, cache_k, cache_v):
            angle = tf.cast(input_pos + self.rope_offset,
                            tf.float32)[:, None, None]
            cos = tf.concat([tf.cos(angle)] * 2, -1)
            sin = tf.concat([tf.sin(angle)] * 2, -1)
            q = litert_causal_lm.rotate_half(q, cos, sin) / np.sqrt(2.0)
            k = litert_causal_lm.rotate_half(k, cos, sin)
            out = litert_causal_lm.cached_attention(
                tf.transpose(q, [1, 0, 2]), tf.transpose(k, [1, 0, 2]),
                tf.transpose(v, [1, 0, 2]), cache_k, cache_v, input_pos[0])
            return {"out": out[0], "k_new": k[:, 0]}
        return step


Q = np.array([[0, 1], [1, 0], [0.5, 0.5], [1, 0]], np.float32)[:, None]
K = np.array([[1, 0], [0, 1], [1, 1], [0.5, -0.5]], np.float32)[:, None]
V = np.array([[1, 0], [0, 1], [1, 1], [2, 0]], np.float32)[:, None]


def _toy_run(rope_offset=0, slots=6):
    """Prefill tokens 0-2 into slots 0-2, then decode token 3 (slot 3), in
    LiteRT; rotary positions are the slots plus `rope_offset`. Returns
    (prefill outputs, decode output, cached keys)."""
    offset = 0
    toy = _ToyAttention(slots, rope_offset)
    runners = {}
    for n in (3, 1):
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [toy.function(n).get_concrete_function()], toy)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS]
        content = converter.convert()
        assert not any(op.startswith("CUSTOM") for op in
                       litert_causal_lm.builtin_op_names(content))
        runners[n] = _interpreter(content).get_signature_runner()
    cache_k = np.zeros([1, slots, 2], np.float32)
    cache_v = np.zeros([1, slots, 2], np.float32)
    positions = np.arange(offset, offset + 3, dtype=np.int32)
    prefill = runners[3](q=Q[:3], k=K[:3], v=V[:3], input_pos=positions,
                         cache_k=cache_k, cache_v=cache_v)
    cache_k[0, offset:offset + 3] = prefill["k_new"]
    cache_v[0, offset:offset + 3] = V[:3, 0]
    decode = runners[1](q=Q[3:], k=K[3:], v=V[3:],
                        input_pos=np.array([offset + 3], np.int32),
                        cache_k=cache_k, cache_v=cache_v)
    cache_k[0, offset + 3] = decode["k_new"][0]
    return prefill["out"], decode["out"][0], cache_k[0]


def test_br19_toy_decode_step_matches_the_no_cache_forward():
    prefill, decode, keys = _toy_run()
    np.testing.assert_allclose(prefill[2], [0.619525, 0.853902], atol=1e-5)
    np.testing.assert_allclose(decode, [0.926228, 0.703572], atol=1e-5)
    np.testing.assert_allclose(keys, [[1, 0], [-0.841471, 0.540302],
                                      [-1.325444, 0.493151],
                                      [-0.424436, 0.565556], [0, 0], [0, 0]],
                               atol=1e-5)
    # The wrong answers the case lists (off-by-one position, position 0,
    # unmasked zero slots, wrong slot) are all far from ours.
    for wrong in ([1.069749, 0.551151], [1.198512, 0.214599],
                  [0.707764, 0.537625], [0.802391, 0.609505]):
        assert np.abs(decode - wrong).max() > 0.05


def test_br19_toy_shifted_positions_change_nothing():
    _, decode, _ = _toy_run(rope_offset=5)
    np.testing.assert_allclose(decode, [0.926228, 0.703572], atol=1e-5)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny tied Llama, its fp32 + dynamic_int8 bundle (no tokenizer)."""
    backbone = tiny_llama_backbone(seed=3, tie_word_embeddings=True)
    # Larger weights make the logits peaked enough for stable argmaxes.
    embeddings = backbone.token_embedding.embeddings
    embeddings.assign(embeddings * 8.0)
    lm = keras_hub.models.Llama3CausalLM(backbone, preprocessor=None)
    folder = tmp_path_factory.mktemp("bundle") / "tiny_litert"
    settings = litert_causal_lm.export_causal_lm(
        lm, folder, recipes=("fp32", "dynamic_int8"), max_length=MAX_LENGTH,
        prefill_lengths=BUCKETS, stop_token_ids=[])
    return lm, folder, settings


def _no_cache_logits(lm, ids):
    ids = np.array([ids], np.int32)
    return keras.ops.convert_to_numpy(
        lm({"token_ids": ids, "padding_mask": np.ones_like(ids)}))[0]


def test_bundle_holds_builtin_ops_only_and_its_settings(tiny):
    _, folder, settings = tiny
    saved = json.loads((folder / "generation.json").read_text())
    assert saved["max_length"] == MAX_LENGTH
    assert saved["prefill_lengths"] == list(BUCKETS)
    for recipe in ("fp32", "dynamic_int8"):
        operators = saved["conversion"][recipe]["operators"]
        assert "FULLY_CONNECTED" in operators
        assert not [op for op in operators if op.startswith("CUSTOM")]
    # int8 matrices (fused QKV, output, fused gate/up, down per layer, and
    # the tied LM head), one scale per output channel.
    int8 = LiteRTCausalLM(folder, recipe="dynamic_int8").interpreter
    matrices = [t for t in int8.get_tensor_details(
        subgraph_index=int8.get_signature_runner("decode")._subgraph_index)
        if t["dtype"] == np.int8 and len(t["shape"]) == 2]
    assert len(matrices) == 4 * 2 + 1
    assert all(len(t["quantization_parameters"]["scales"]) == t["shape"][0]
               for t in matrices)
    engine = LiteRTCausalLM(folder)
    assert sorted(engine.interpreter.get_signature_list()) == [
        "decode", "prefill_4", "prefill_8"]


@pytest.mark.parametrize("prompt_length", [3, 5, 9, 12])
def test_fp32_logits_equal_keras_at_every_decoded_position(tiny,
                                                           prompt_length):
    """Prompts inside one bucket (3 -> 4, 5 -> 8), exactly a bucket plus
    the decoded last token (9 = 8 prefilled + 1) and longer than the
    largest bucket (12: 8 + 3 prefilled in two chunks); decoding runs to
    the last cache slot."""
    lm, folder, _ = tiny
    rng = np.random.default_rng(prompt_length)
    ids = rng.integers(3, lm.backbone.vocabulary_size, MAX_LENGTH).tolist()
    expected = _no_cache_logits(lm, ids)
    engine = LiteRTCausalLM(folder, num_threads=1, recipe="fp32")
    logits = [engine.logits_after(ids[:prompt_length])]
    for position in range(prompt_length, MAX_LENGTH):
        logits.append(engine.decode(ids[position]))
    assert engine.position == MAX_LENGTH
    np.testing.assert_allclose(np.array(logits),
                               expected[prompt_length - 1:], atol=1e-4)
    with pytest.raises(CacheFullError, match="16 cache slots"):
        engine.decode(ids[0])


def test_greedy_tokens_equal_tensorflow_and_int8_mostly_agrees(tiny):
    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate

    lm, folder, _ = tiny
    prompt = [5, 40, 77, 120, 9]
    new = MAX_LENGTH - len(prompt)
    reference = [int(t) for t in generate(
        lm, [prompt], GenerationConfig(max_new_tokens=new))[0]]
    fp32 = LiteRTCausalLM(folder, recipe="fp32").generate(
        prompt, max_new_tokens=new)
    assert fp32 == reference
    # int8: teacher-forced next-token argmax over the whole cache.
    rng = np.random.default_rng(0)
    ids = rng.integers(3, lm.backbone.vocabulary_size, MAX_LENGTH).tolist()
    expected = _no_cache_logits(lm, ids).argmax(-1)
    int8 = LiteRTCausalLM(folder, recipe="dynamic_int8")
    chosen = [int(int8.logits_after(ids[:1]).argmax())]
    chosen += [int(int8.decode(t).argmax()) for t in ids[1:]]
    assert np.mean(np.array(chosen) == expected) >= 0.8


def test_generation_past_the_cache_is_refused_before_it_runs(tiny):
    _, folder, _ = tiny
    engine = LiteRTCausalLM(folder)
    with pytest.raises(CacheFullError, match="exceed the 16 cache slots"):
        engine.generate(list(range(3, 13)), max_new_tokens=7)
    assert engine.position == 0  # nothing ran
    assert len(engine.generate(list(range(3, 13)), max_new_tokens=6)) == 6


def test_sampling_is_seeded_and_top_k_1_is_greedy(tiny):
    _, folder, _ = tiny
    engine = LiteRTCausalLM(folder)
    prompt = [5, 6, 7]
    greedy = engine.generate(prompt, max_new_tokens=8)
    assert engine.generate(prompt, max_new_tokens=8, temperature=1.5,
                           top_k=1) == greedy
    first = engine.generate(prompt, max_new_tokens=8, temperature=2.0,
                            seed=7)
    assert engine.generate(prompt, max_new_tokens=8, temperature=2.0,
                           seed=7) == first


def test_non_llama_and_bad_settings_are_refused(tmp_path):
    from tests.tiny_lm import br15_causal_lm

    with pytest.raises(ValueError, match="Llama-family"):
        litert_causal_lm.LlamaSignatures(br15_causal_lm())
    lm = keras_hub.models.Llama3CausalLM(tiny_llama_backbone(),
                                         preprocessor=None)
    with pytest.raises(ValueError, match="prefill lengths"):
        litert_causal_lm.export_causal_lm(lm, tmp_path / "b",
                                          max_length=8, prefill_lengths=(16,))
    with pytest.raises(ValueError, match="unknown recipe"):
        litert_causal_lm.export_causal_lm(lm, tmp_path / "b",
                                          recipes=("int3",))
    with pytest.raises(ValueError, match="do not divide the model width"):
        litert_causal_lm.quantize(b"", "dynamic_int4_block128", width=576)
    assert not (tmp_path / "b").exists()


def test_gpt2_decoder_exports_with_the_same_logits(tmp_path):
    """A GPT-2 decoder (what `tfllm train clm` builds): learned positions,
    biases, tanh GELU; fp32 LiteRT logits equal the no-cache forward at
    every decoded position, chunked prefill included."""
    from tests.tiny_lm import br15_causal_lm
    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate

    lm = br15_causal_lm()
    embeddings = lm.backbone.token_embedding.embeddings
    embeddings.assign(embeddings * 8.0)
    litert_causal_lm.export_causal_lm(lm, tmp_path / "gpt2", max_length=16,
                                      prefill_lengths=(4, 8))
    engine = LiteRTCausalLM(tmp_path / "gpt2", num_threads=1)
    ids = np.random.default_rng(1).integers(0, 50, MAX_LENGTH).tolist()
    expected = _no_cache_logits(lm, ids)
    for prompt_length in (3, 11):
        logits = [engine.logits_after(ids[:prompt_length])]
        logits += [engine.decode(t) for t in ids[prompt_length:]]
        np.testing.assert_allclose(np.array(logits),
                                   expected[prompt_length - 1:], atol=1e-4)
    prompt = ids[:4]
    reference = [int(t) for t in generate(
        lm, [prompt], GenerationConfig(max_new_tokens=12))[0]]
    assert engine.generate(prompt, max_new_tokens=12) == reference
    with pytest.raises(ValueError, match="learned positions"):
        litert_causal_lm.GPT2Signatures(lm, max_length=64)
