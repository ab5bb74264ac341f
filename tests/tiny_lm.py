"""Tiny random causal LMs and a tiny GGUF file for generation tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402


def br15_causal_lm():
    """The tiny GPT-2 of outside case BR-15 (vocab 50, seed 0)."""
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32)
    return keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)


def byte_level_alphabet():
    """GPT-2's 256 printable stand-ins for bytes (`bytes_to_unicode`)."""
    keep = (list(range(ord("!"), ord("~") + 1))
            + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    codes = keep[:]
    extra = 0
    for byte in range(256):
        if byte not in keep:
            keep.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d",
          "Ġwor ld", "Ċ Ċ", "w or", "wor ld"]
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + "
    "'\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}")


def tiny_bpe_tokens():
    """Special tokens, the 256 byte symbols, then one token per merge."""
    tokens = SPECIAL_TOKENS + byte_level_alphabet()
    tokens += [merge.replace(" ", "") for merge in MERGES]
    return tokens


def tiny_llama_backbone(seed=0, tie_word_embeddings=False):
    keras.utils.set_random_seed(seed)
    return keras_hub.models.Llama3Backbone(
        vocabulary_size=len(tiny_bpe_tokens()), num_layers=2,
        num_query_heads=4, hidden_dim=64, intermediate_dim=64,
        num_key_value_heads=2, rope_max_wavelength=10000.0,
        layer_norm_epsilon=1e-5, tie_word_embeddings=tie_word_embeddings)


def llama_cpp_permute(weight, num_heads):
    """llama.cpp's Q/K row order (`convert_hf_to_gguf.py`, `permute`)."""
    return (weight.reshape(num_heads, 2, weight.shape[0] // num_heads // 2,
                           *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def write_tiny_gguf(path, backbone):
    """Writes `backbone` as llama.cpp would, some tensors quantised.

    Token embedding: Q8_0; Q/K/V/output projections: Q4_1; FFN: F16; norms
    and the LM head: F32. The backbone's weights are replaced by their
    quantise-dequantise round trip, so the file and the backbone hold the
    same function and a correct reader reproduces its logits.
    """
    import gguf

    q8, q41 = gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_1
    f16, f32 = gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.F32
    hidden = backbone.hidden_dim
    heads, kv_heads = backbone.num_query_heads, backbone.num_key_value_heads
    tensors = []

    def add(name, variable, to_hf, from_hf, kind, permute_heads=None):
        weight = to_hf(keras.ops.convert_to_numpy(variable))
        if kind in (q8, q41):
            weight = gguf.quants.dequantize(
                gguf.quants.quantize(weight, kind), kind)
        elif kind == f16:
            weight = weight.astype(np.float16).astype(np.float32)
        variable.assign(from_hf(weight))
        if permute_heads:
            weight = llama_cpp_permute(weight, permute_heads)
        tensors.append((name, weight, kind))

    same = (lambda w: w, lambda w: w)
    transposed = (lambda w: w.T, lambda w: w.T)
    embedding = backbone.token_embedding
    add("token_embd.weight", embedding.embeddings, *same, q8)
    if not backbone.tie_word_embeddings:
        add("output.weight", embedding.reverse_embeddings, *transposed, f32)
    for i, layer in enumerate(backbone.transformer_layers):
        attention = layer._self_attention_layer
        block = f"blk.{i}"
        add(f"{block}.attn_norm.weight",
            layer._self_attention_layernorm.scale, *same, f32)
        add(f"{block}.ffn_norm.weight", layer._feedforward_layernorm.scale,
            *same, f32)
        for name, dense, count in (("attn_q", attention._query_dense, heads),
                                   ("attn_k", attention._key_dense,
                                    kv_heads),
                                   ("attn_v", attention._value_dense,
                                    kv_heads)):
            shape = tuple(dense.kernel.shape)
            add(f"{block}.{name}.weight", dense.kernel,
                lambda w: w.reshape(hidden, -1).T,
                lambda w, s=shape: w.T.reshape(s), q41,
                permute_heads=None if name == "attn_v" else count)
        shape = tuple(attention._output_dense.kernel.shape)
        add(f"{block}.attn_output.weight", attention._output_dense.kernel,
            lambda w: w.reshape(-1, hidden).T,
            lambda w, s=shape: w.T.reshape(s), q41)
        add(f"{block}.ffn_gate.weight", layer._feedforward_gate_dense.kernel,
            *transposed, f16)
        add(f"{block}.ffn_up.weight",
            layer._feedforward_intermediate_dense.kernel, *transposed, f16)
        add(f"{block}.ffn_down.weight",
            layer._feedforward_output_dense.kernel, *transposed, f16)
    add("output_norm.weight", backbone.layer_norm.scale, *same, f32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(backbone.num_layers)
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(backbone.intermediate_dim)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_vocab_size(backbone.vocabulary_size)
    tokens = tiny_bpe_tokens()
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(SPECIAL_TOKENS)
                           + [1] * (len(tokens) - len(SPECIAL_TOKENS)))
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    writer.add_chat_template(CHATML)
    for name, weight, kind in tensors:
        if kind == f32:
            writer.add_tensor(name, weight.astype(np.float32))
        elif kind == f16:
            writer.add_tensor(name, weight.astype(np.float16))
        else:
            writer.add_tensor(name, gguf.quants.quantize(weight, kind),
                              raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
