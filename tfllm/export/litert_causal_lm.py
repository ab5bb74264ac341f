"""A causal LM (Llama family or GPT-2) as one LiteRT model with prefill and
decode signatures over an explicit key/value cache.

The design follows Google's on-device generative converter (ai-edge-torch,
now litert-torch, `generative/`): one `.tflite` file whose signatures share
the weights, the cache passed in as model inputs, builtin ops only. It
differs in one respect, to keep the cache out of every step's copies:

- Signatures. `prefill_<N>` for each bucketed length N: `tokens` int32
  `[1, N]` and `input_pos` int32 `[N]` (the positions of the tokens,
  consecutive from the first free cache slot), and the cache; `decode`: one
  token `[1, 1]`, its position `[1]`, and the cache. The cache inputs are
  `kv_cache_k_<layer>` and `kv_cache_v_<layer>`, float32
  `[1, num_key_value_heads, max_length, head_dim]`.
- Outputs. Each signature returns the *new* keys and values only,
  `k_<layer>` / `v_<layer>` float32 `[1, num_key_value_heads, N, head_dim]`
  (already rotated), which the runtime writes into the cache slots
  `input_pos[0] .. input_pos[0] + N - 1` in place
  (`tfllm.inference.litert_lm`); `decode` also returns `logits`
  float32 `[1, vocabulary_size]`. Returning the whole cache, as the
  reference does with `dynamic_update_slice`, makes every step copy it
  (30 layers x 2 x max_length x 192 floats for SmolLM2: 47 MB at 1,024
  slots) through the Python interpreter API.
- Attention of a chunk that starts at position p: to cache slots `< p`
  (earlier tokens; slots at and beyond p are masked, so whatever a slot
  holds before it is written never counts) and, causally, to the chunk's
  own new keys; one softmax over both. Rotary angles are gathered from a
  table at `input_pos` (outside case BR-19: position and slot per step).
- Grouped-query attention without repeating keys: the queries of one key
  head are grouped (Ainslie et al., 2023, "GQA").

Prefill returns no logits: the runtime prefills all prompt tokens but the
last and decodes the last one, as LiteRT-LM does; a prompt longer than the
largest bucket is prefilled in chunks of it.

Quantization recipes (`RECIPES`):

- `fp32`: no quantization.
- `fp16`: weights stored as float16 (the converter's float16 quantization),
  computed in float32: half the file, float32 speed.
- `dynamic_int8`: ai-edge-quantizer's `dynamic_wi8_afp32`: int8 weights,
  one scale per output channel, activations quantized to int8 on the fly
  (XNNPACK's dynamically quantized kernels, which
  `tfllm.inference.litert_lm` enables). The embedding table stays float32
  (a lookup reads one row per token, so it costs file size, not speed).
  The TFLite converter's own dynamic-range mode is not used: it quantizes
  the embedding table with one scale for the whole table, and SmolLM2's
  perplexity rose 5.6% against 2.9% with this recipe (BENCHMARKS.md).
- `weight_only_int8`: ai-edge-quantizer's `weight_only_wi8_afp32`: int8
  weights dequantized, float32 compute.
- `dynamic_int4_block32` / `_block64` / `_block128`: ai-edge-quantizer's
  blockwise int4 weights (one scale per 32, 64 or 128 input channels) with
  dynamically quantized int8 activations.
- `dynamic_int4_mlp_int8`: 4-bit blocks of 32 for the MLP products
  (gate/up and down: three quarters of a layer's weights) and per-channel
  int8 for attention and the LM head.
"""

import json
import pathlib

import tensorflow as tf

from tfllm.generation.llama_step import rms_norm
from tfllm.generation.llama_step import rotate_half  # noqa: F401 (public)

RECIPES = ("fp32", "fp16", "dynamic_int8", "weight_only_int8",
           "dynamic_int4_block32", "dynamic_int4_block64",
           "dynamic_int4_block128", "dynamic_int4_mlp_int8")
DEFAULT_PREFILL_LENGTHS = (32, 128)
DEFAULT_MAX_LENGTH = 1024
_NEGATIVE = -1e9


def cached_attention(query, key, value, cached_keys, cached_values, start):
    """Attention of a chunk of `n` tokens at positions `start..start+n-1`
    over a fixed-size cache plus the chunk's own keys.

    Cache slots `< start` hold earlier tokens and are attended; slots at
    or after `start` are masked whatever they hold (outside case BR-19:
    zero-filled slots never take part in the softmax). Within the chunk,
    token i attends to chunk tokens j <= i. One softmax over both parts
    (computed as exp(s - max) / sum, without concatenating them).

    Args:
        query: float32 `[kv_heads, groups * n, head_dim]`, rotated and
            scaled by 1/sqrt(head_dim); row `g * n + i` is token i of the
            g-th query head of that key head.
        key: float32 `[kv_heads, n, head_dim]`, the chunk's rotated keys.
        value: float32 `[kv_heads, n, head_dim]`, the chunk's values.
        cached_keys: float32 `[kv_heads, max_length, head_dim]`.
        cached_values: float32 `[kv_heads, max_length, head_dim]`.
        start: int32 scalar, the position (= cache slot) of token 0.

    Returns:
        float32 `[kv_heads, groups * n, head_dim]`.
    """
    kv = query.shape[0]
    n = key.shape[1]
    max_length = cached_keys.shape[1]
    rows = query.shape[1]
    groups = rows // n
    cache_bias = tf.where(tf.range(max_length) < start, 0.0, _NEGATIVE)
    causal = tf.where(tf.range(n)[None, :] <= tf.range(n)[:, None],
                      0.0, _NEGATIVE)  # [n, n]
    old = tf.matmul(query, cached_keys, transpose_b=True)
    old = tf.reshape(old, [kv, groups, n, max_length]) + cache_bias
    own = tf.matmul(query, key, transpose_b=True)
    own = tf.reshape(own, [kv, groups, n, n]) + causal
    # One softmax over [old, own] written out, so no concatenation and no
    # split of the probabilities: the converter turns such a split into
    # SPLIT_V, which XNNPACK does not run, and each layer's graph would be
    # cut in two delegate partitions.
    top = tf.maximum(tf.reduce_max(old, -1, keepdims=True),
                     tf.reduce_max(own, -1, keepdims=True))
    e_old = tf.exp(old - top)
    e_own = tf.exp(own - top)
    total = (tf.reduce_sum(e_old, -1, keepdims=True)
             + tf.reduce_sum(e_own, -1, keepdims=True))
    mixed = (tf.matmul(tf.reshape(e_old, [kv, rows, max_length]),
                       cached_values)
             + tf.matmul(tf.reshape(e_own, [kv, rows, n]), value))
    return mixed / tf.reshape(total, [kv, rows, 1])


class CausalLMSignatures(tf.Module):
    """What every exported decoder shares: the signature functions and the
    cache shapes. Subclasses set `num_layers`, `kv_heads`, `head_dim`,
    `max_length`, `hidden`, `vocabulary_size` and define `forward`."""

    @staticmethod
    def _variable(value, name=None):
        """A frozen copy of a weight (the converter stores it once, shared
        by every signature)."""
        return tf.Variable(tf.convert_to_tensor(value), trainable=False,
                           name=name)

    def cache_shape(self):
        """`[1, num_key_value_heads, max_length, head_dim]`."""
        return [1, self.kv_heads, self.max_length, self.head_dim]

    def function(self, length, logits, name):
        """A `tf.function` named `name` (the signature key) for chunks of
        `length` tokens."""
        specs = {"tokens": tf.TensorSpec([1, length], tf.int32, "tokens"),
                 "input_pos": tf.TensorSpec([length], tf.int32, "input_pos")}
        for i in range(self.num_layers):
            for kind in "kv":
                name = f"kv_cache_{kind}_{i}"
                specs[name] = tf.TensorSpec(self.cache_shape(), tf.float32,
                                            name)
        names = list(specs)

        def run(*args):
            values = dict(zip(names, args))
            caches = [(values[f"kv_cache_k_{i}"], values[f"kv_cache_v_{i}"])
                      for i in range(self.num_layers)]
            return self.forward(values["tokens"], values["input_pos"],
                                caches, logits)

        run.__name__ = name
        return tf.function(run, input_signature=list(specs.values()),
                           autograph=False)


class LlamaSignatures(CausalLMSignatures):
    """The prefill and decode functions of one Llama-family model.

    Args:
        causal_lm: a KerasHub Llama-family causal LM for which
            `tfllm.generation.llama_step.supports` holds (float32, plain
            layers; merge LoRA first).
        max_length: int. Cache slots (the longest prompt plus generation).

    Raises:
        ValueError: for a model the export does not cover.
    """

    def __init__(self, causal_lm, max_length=DEFAULT_MAX_LENGTH):
        super().__init__(name="causal_lm")
        from tfllm.generation import llama_step

        if not llama_step.supports(causal_lm):
            raise ValueError(
                "LiteRT generation export covers float32 Llama-family "
                "models (Llama, Llama 3, SmolLM2, causal LMs fine-tuned from "
                "them) and GPT-2 decoders, with plain layers; merge LoRA "
                "weights first and export before quantizing in Keras")
        backbone = causal_lm.backbone
        self.num_layers = backbone.num_layers
        self.num_heads = backbone.num_query_heads
        self.kv_heads = backbone.num_key_value_heads
        self.groups = self.num_heads // self.kv_heads
        self.hidden = backbone.hidden_dim
        self.head_dim = self.hidden // self.num_heads
        self.epsilon = float(backbone.layer_norm_epsilon)
        self.max_length = int(max_length)
        self.vocabulary_size = backbone.vocabulary_size
        weights = llama_step.decoder_weights(causal_lm)

        variable = self._variable
        self.embeddings = variable(weights["embeddings"], "embeddings")
        self.lm_head = (None if weights["lm_head"] is None
                        else variable(weights["lm_head"], "lm_head"))
        self.norm = variable(weights["norm"], "norm")
        # Fused projections: one matrix for queries, keys and values
        # ([hidden, (heads + 2 kv_heads) * head_dim]) and one for the gate
        # and up projections, so each layer quantizes its normalised input
        # once per fused product (dynamic-range recipes) and runs fewer ops.
        self.layers = []
        for i, layer in enumerate(weights["layers"]):
            self.layers.append({
                "attention_norm": variable(layer["attention_norm"],
                                           f"layer{i}_attention_norm"),
                "qkv": variable(tf.concat(
                    [layer["query"], layer["key"], layer["value"]], axis=1),
                    f"layer{i}_qkv"),
                "output": variable(layer["output"], f"layer{i}_output"),
                "mlp_norm": variable(layer["mlp_norm"],
                                     f"layer{i}_mlp_norm"),
                "gate_up": variable(tf.concat(
                    [layer["gate"], layer["up"]], axis=1),
                    f"layer{i}_gate_up"),
                "down": variable(layer["down"], f"layer{i}_down"),
            })
        rotary = backbone.transformer_layers[0]._self_attention_layer \
            .rotary_embedding_layer
        cos, sin = rotary._compute_cos_sin_embedding(
            tf.zeros([1, self.max_length, 1, self.head_dim]), 0)
        self.cos = tf.constant(tf.reshape(cos, [self.max_length,
                                                self.head_dim]))
        self.sin = tf.constant(tf.reshape(sin, [self.max_length,
                                                self.head_dim]))

    def _rms(self, x, scale):
        return rms_norm(x, scale, self.epsilon)

    def forward(self, tokens, input_pos, caches, logits):
        """New keys/values of the chunk and, with `logits`, the last row's
        logits. `tokens` `[1, n]`, `input_pos` `[n]`, `caches` a list of
        `(keys, values)` per layer."""
        n = tokens.shape[1]
        kv, groups, hd = self.kv_heads, self.groups, self.head_dim
        start = input_pos[0]
        cos = tf.gather(self.cos, input_pos)[:, None, :]  # [n, 1, hd]
        sin = tf.gather(self.sin, input_pos)[:, None, :]
        scale = 1.0 / float(hd) ** 0.5

        def heads_first(t, heads):  # [n, heads, hd] -> [heads, n, hd]
            if n == 1:  # a reshape, not a TRANSPOSE op
                return tf.reshape(t, [heads, 1, hd])
            return tf.transpose(t, [1, 0, 2])

        heads = self.num_heads
        x = tf.gather(self.embeddings, tf.reshape(tokens, [n]))
        new = {}
        for i, layer in enumerate(self.layers):
            h = self._rms(x, layer["attention_norm"])
            # The fused product holds groups + 2 equal chunks of kv heads
            # (queries, then keys, then values). Equal splits become SPLIT
            # ops, which XNNPACK runs; unequal slices would become one
            # SPLIT_V, which it does not, cutting each layer's graph.
            qkv = tf.matmul(h, layer["qkv"], name=f"attention_qkv_{i}")
            chunks = tf.split(tf.reshape(qkv, [n, groups + 2, kv * hd]),
                              groups + 2, axis=1)
            # Queries and keys rotated together (one set of ops).
            query_key = rotate_half(
                tf.reshape(tf.concat(chunks[:groups + 1], axis=1),
                           [n, heads + kv, hd]), cos, sin)
            rotated = tf.split(
                tf.reshape(query_key, [n, groups + 1, kv * hd]),
                groups + 1, axis=1)
            query = tf.reshape(tf.concat(rotated[:groups], axis=1)
                               if groups > 1 else rotated[0],
                               [n, heads, hd]) * scale
            key = heads_first(tf.reshape(rotated[groups], [n, kv, hd]), kv)
            value = heads_first(tf.reshape(chunks[groups + 1], [n, kv, hd]),
                                kv)  # [kv, n, hd]
            # [kv, groups * n, hd]: head u = k * groups + g.
            if n == 1:
                query = tf.reshape(query, [kv, groups, hd])
            else:
                query = tf.reshape(tf.transpose(
                    tf.reshape(query, [n, kv, groups, hd]), [1, 2, 0, 3]),
                    [kv, groups * n, hd])
            mixed = cached_attention(
                query, key, value,
                tf.reshape(caches[i][0], [kv, self.max_length, hd]),
                tf.reshape(caches[i][1], [kv, self.max_length, hd]), start)
            if n == 1:
                mixed = tf.reshape(mixed, [1, self.hidden])
            else:
                mixed = tf.reshape(tf.transpose(
                    tf.reshape(mixed, [kv, groups, n, hd]), [2, 0, 1, 3]),
                    [n, self.hidden])
            x = x + tf.matmul(mixed, layer["output"],
                              name=f"attention_output_{i}")
            h = self._rms(x, layer["mlp_norm"])
            # Two equal halves split along a middle axis: a SPLIT op, which
            # XNNPACK runs (split along the last axis, the converter wrote a
            # SPLIT_V, which it does not, and each layer's graph was cut).
            gate_up = tf.matmul(h, layer["gate_up"], name=f"mlp_gate_up_{i}")
            gate, up = tf.split(tf.reshape(gate_up, [n, 2, -1]), 2, axis=1)
            gate = tf.reshape(gate, [n, -1])
            up = tf.reshape(up, [n, -1])
            x = x + tf.matmul(tf.nn.silu(gate) * up, layer["down"],
                              name=f"mlp_down_{i}")
            new[f"k_{i}"] = key[None]
            new[f"v_{i}"] = value[None]
        if logits:
            last = self._rms(x[-1:], self.norm)
            if self.lm_head is None:
                new["logits"] = tf.matmul(last, self.embeddings,
                                          transpose_b=True, name="lm_head")
            else:
                new["logits"] = tf.matmul(last, self.lm_head,
                                          name="lm_head")
        return new


class GPT2Signatures(CausalLMSignatures):
    """The prefill and decode functions of a KerasHub GPT-2 decoder (the
    architecture `tfllm train clm` builds): learned positions, pre-norm
    LayerNorm with biases, multi-head attention with biases, tanh GELU
    (Radford et al., 2019, "Language Models are Unsupervised Multitask
    Learners"), the output tied to the token embedding.

    Args:
        causal_lm: a float32 `keras_hub.models.GPT2CausalLM` with plain
            layers.
        max_length: int. Cache slots; at most the model's
            `max_sequence_length` (its learned positions).

    Raises:
        ValueError: quantized or PEFT layers, or a cache longer than the
            learned positions.
    """

    def __init__(self, causal_lm, max_length=DEFAULT_MAX_LENGTH):
        super().__init__(name="causal_lm")
        backbone = causal_lm.backbone
        if backbone.dtype_policy.name != "float32" or "peft_state" in vars(
                causal_lm) or "peft_state" in vars(backbone):
            raise ValueError("LiteRT generation export covers float32 "
                             "GPT-2 decoders without PEFT layers; merge "
                             "LoRA weights first")
        limit = backbone.max_sequence_length
        if max_length > limit:
            raise ValueError(f"max_length {max_length} exceeds the model's "
                             f"{limit} learned positions")
        self.num_layers = backbone.num_layers
        self.num_heads = self.kv_heads = backbone.num_heads
        self.hidden = backbone.hidden_dim
        self.head_dim = self.hidden // self.num_heads
        self.max_length = int(max_length)
        self.vocabulary_size = backbone.vocabulary_size

        constant = self._variable
        def dense(layer):  # EinsumDense [hidden, heads, hd] -> 2-D
            kernel = tf.convert_to_tensor(layer.kernel)
            return (tf.reshape(kernel, [kernel.shape[0], -1]),
                    tf.reshape(tf.convert_to_tensor(layer.bias), [-1]))

        self.embeddings = constant(backbone.token_embedding.embeddings)
        self.positions = constant(backbone.position_embedding
                                  .position_embeddings[:self.max_length])
        self.layers = []
        for layer in backbone.transformer_layers:
            if quantized_or_replaced(layer):
                raise ValueError("LiteRT generation export covers plain "
                                 "GPT-2 layers (no quantized or PEFT layers)")
            attention = layer._self_attention_layer
            parts = [dense(attention._query_dense),
                     dense(attention._key_dense),
                     dense(attention._value_dense)]
            output = attention._output_dense
            self.layers.append({
                "ln1": (constant(layer._self_attention_layer_norm.gamma),
                        constant(layer._self_attention_layer_norm.beta)),
                "qkv": constant(tf.concat([k for k, _ in parts], axis=1)),
                "qkv_bias": constant(tf.concat([b for _, b in parts], 0)),
                "output": constant(tf.reshape(output.kernel,
                                              [-1, self.hidden])),
                "output_bias": constant(output.bias),
                "ln2": (constant(layer._feedforward_layer_norm.gamma),
                        constant(layer._feedforward_layer_norm.beta)),
                "up": constant(layer._feedforward_intermediate_dense.kernel),
                "up_bias": constant(layer._feedforward_intermediate_dense
                                    .bias),
                "down": constant(layer._feedforward_output_dense.kernel),
                "down_bias": constant(layer._feedforward_output_dense.bias),
            })
        self.final_norm = (constant(backbone.layer_norm.gamma),
                           constant(backbone.layer_norm.beta))
        self.epsilon = float(backbone.transformer_layers[0]
                             ._self_attention_layer_norm.epsilon)

    def _norm(self, x, parameters):
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        variance = tf.reduce_mean(tf.square(x - mean), axis=-1,
                                  keepdims=True)
        return ((x - mean) * tf.math.rsqrt(variance + self.epsilon)
                * parameters[0] + parameters[1])

    def forward(self, tokens, input_pos, caches, logits):
        """As `LlamaSignatures.forward`, for GPT-2."""
        n = tokens.shape[1]
        heads, hd = self.num_heads, self.head_dim
        start = input_pos[0]
        scale = 1.0 / float(hd) ** 0.5
        x = (tf.gather(self.embeddings, tf.reshape(tokens, [n]))
             + tf.gather(self.positions, input_pos))
        new = {}
        for i, layer in enumerate(self.layers):
            h = self._norm(x, layer["ln1"])
            qkv = tf.matmul(h, layer["qkv"], name=f"attention_qkv_{i}") \
                + layer["qkv_bias"]
            query, key, value = tf.split(
                tf.reshape(qkv, [n, 3, heads * hd]), 3, axis=1)
            # [heads, n, hd]; one query per key head (groups = 1).
            query = tf.transpose(tf.reshape(query, [n, heads, hd]),
                                 [1, 0, 2]) * scale
            key = tf.transpose(tf.reshape(key, [n, heads, hd]), [1, 0, 2])
            value = tf.transpose(tf.reshape(value, [n, heads, hd]),
                                 [1, 0, 2])
            mixed = cached_attention(
                query, key, value,
                tf.reshape(caches[i][0], [heads, self.max_length, hd]),
                tf.reshape(caches[i][1], [heads, self.max_length, hd]),
                start)
            mixed = tf.reshape(tf.transpose(mixed, [1, 0, 2]),
                               [n, self.hidden])
            x = x + tf.matmul(mixed, layer["output"],
                              name=f"attention_output_{i}") \
                + layer["output_bias"]
            h = self._norm(x, layer["ln2"])
            h = tf.nn.gelu(tf.matmul(h, layer["up"], name=f"mlp_up_{i}")
                           + layer["up_bias"], approximate=True)
            x = x + tf.matmul(h, layer["down"], name=f"mlp_down_{i}") \
                + layer["down_bias"]
            new[f"k_{i}"] = key[None]
            new[f"v_{i}"] = value[None]
        if logits:
            last = self._norm(x[-1:], self.final_norm)
            new["logits"] = tf.matmul(last, self.embeddings,
                                      transpose_b=True, name="lm_head")
        return new


def quantized_or_replaced(layer):
    """Whether any dense layer under `layer` is quantized or a PEFT
    wrapper (the export reads plain kernels only)."""
    import keras

    for sub in layer._flatten_layers(include_self=False):
        if isinstance(sub, (keras.layers.Dense, keras.layers.EinsumDense)):
            if sub.quantization_mode or type(sub) not in (
                    keras.layers.Dense, keras.layers.EinsumDense):
                return True
    return False


def signatures_for(causal_lm, max_length=DEFAULT_MAX_LENGTH):
    """The `CausalLMSignatures` of a decoder: Llama family or GPT-2.

    Raises:
        ValueError: another architecture, or a model variant the export
            does not cover (the message says which).
    """
    import keras_hub

    if isinstance(getattr(causal_lm, "backbone", None),
                  keras_hub.models.GPT2Backbone):
        return GPT2Signatures(causal_lm, max_length)
    return LlamaSignatures(causal_lm, max_length)


def convert(module, prefill_lengths, recipe="fp32"):
    """Converts `module` to one `.tflite` flatbuffer with the recipe.

    Args:
        module: `LlamaSignatures` or `GPT2Signatures`.
        prefill_lengths: sequence of int. Prefill buckets (tokens).
        recipe: one of `RECIPES`.

    Returns:
        bytes: the flatbuffer (builtin ops only).

    Raises:
        ValueError: unknown recipe, or a blockwise recipe whose block does
            not divide every matrix's input width (SmolLM2's 576 is not a
            multiple of 128).
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    converter = _Converter(module, prefill_lengths)
    try:
        return converter.convert(recipe)
    finally:
        converter.close()


class _Converter:
    """Converts one module to several recipes: the signatures are saved as
    a SavedModel once, and the float32 flatbuffer (the ai-edge-quantizer
    recipes' input) is converted once."""

    def __init__(self, module, prefill_lengths):
        import tempfile

        self.module = module
        self._folder = tempfile.TemporaryDirectory()
        signatures = {f"prefill_{length}": module.function(
            length, False, f"prefill_{length}").get_concrete_function()
            for length in sorted(set(prefill_lengths))}
        signatures["decode"] = module.function(1, True, "decode") \
            .get_concrete_function()
        tf.saved_model.save(module, self._folder.name,
                            signatures=signatures)
        self._keys = list(signatures)
        self._float32 = None

    def _tflite(self, float16):
        converter = tf.lite.TFLiteConverter.from_saved_model(
            self._folder.name, signature_keys=self._keys)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS]
        if float16:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()

    def convert(self, recipe):
        if recipe not in RECIPES:
            raise ValueError(
                f"recipe must be one of {RECIPES}, got {recipe!r}")
        if recipe == "fp16":
            return self._tflite(float16=True)
        if self._float32 is None:
            self._float32 = self._tflite(float16=False)
        if recipe == "fp32":
            return self._float32
        return quantize(self._float32, recipe, self.module.hidden)

    def close(self):
        self._folder.cleanup()


def quantize(content, recipe, width=None):
    """Applies an ai-edge-quantizer recipe to a float32 flatbuffer.

    `dynamic_int8` is its `dynamic_wi8_afp32` (per-channel int8 weights,
    int8 activations at run time); `weight_only_int8` its
    `weight_only_wi8_afp32`; `dynamic_int4_block<B>`
    its dynamic recipe with 4-bit symmetric weights, one scale per block of
    B input channels (`QuantGranularity.BLOCKWISE_<B>`), activations
    quantized to int8 at run time.

    Args:
        content: bytes of a float32 `.tflite`.
        recipe: `dynamic_int8`, `weight_only_int8`,
            `dynamic_int4_block{32,64,128}` or `dynamic_int4_mlp_int8`.
        width: int or None. The model width, checked against the block.

    Returns:
        bytes: the quantized flatbuffer.
    """
    from ai_edge_quantizer import qtyping
    from ai_edge_quantizer import quantizer
    from ai_edge_quantizer import recipe as recipes
    from ai_edge_quantizer import recipe_manager

    fully_connected = qtyping.TFLOperationName.FULLY_CONNECTED
    if recipe == "dynamic_int8":
        chosen = recipes.dynamic_wi8_afp32()
    elif recipe == "weight_only_int8":
        chosen = recipes.weight_only_wi8_afp32()
    elif recipe == "dynamic_int4_mlp_int8":
        # The latest matching entry wins: int8 everywhere, then 4-bit
        # blocks of 32 for the MLP products (named mlp_* by
        # LlamaSignatures), which hold 75% of a Llama layer's weights.
        manager = recipe_manager.RecipeManager()
        manager.add_dynamic_config(
            regex=".*", operation_name=fully_connected, num_bits=8)
        manager.add_dynamic_config(
            regex="mlp_", operation_name=fully_connected, num_bits=4,
            granularity=qtyping.QuantGranularity.BLOCKWISE_32)
        chosen = manager.get_quantization_recipe()
    else:
        block = int(recipe.rsplit("block", 1)[1])
        if width is not None and width % block:
            raise ValueError(
                f"{recipe}: blocks of {block} input channels do not divide "
                f"the model width {width}; choose a block that does "
                f"(e.g. {'32 or 64' if width % 64 == 0 else '32'})")
        manager = recipe_manager.RecipeManager()
        manager.add_dynamic_config(
            regex=".*",
            operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
            num_bits=4,
            granularity=getattr(qtyping.QuantGranularity,
                                f"BLOCKWISE_{block}"))
        chosen = manager.get_quantization_recipe()
    import contextlib
    import io
    import os

    engine = quantizer.Quantizer(bytearray(content))
    engine.load_quantization_recipe(chosen)
    # The quantizer prints progress bars and a size summary; keep tfllm's
    # output to its own lines.
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            result = engine.quantize()
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE")
        else:
            os.environ["TQDM_DISABLE"] = previous
    return bytes(result.quantized_model)


def export_causal_lm(causal_lm, folder, tokenizer=None, recipes=("fp32",),
                     max_length=DEFAULT_MAX_LENGTH,
                     prefill_lengths=DEFAULT_PREFILL_LENGTHS,
                     stop_token_ids=None, use_chat_template=None,
                     system_prompt=None, generation_defaults=None):
    """Writes a LiteRT generation bundle: one `.tflite` per recipe, the
    tokenizer (with its chat template) and `generation.json`.

    The folder is written aside and renamed into place (atomic). Its
    `generation.json` holds `model_files` (recipe -> file), `model_file`
    (the first recipe's), `max_length`, `prefill_lengths`,
    `stop_token_ids`, `use_chat_template`, `system_prompt`, the generation
    defaults and the conversion report (seconds, bytes, operators).

    Args:
        causal_lm: a float32 KerasHub Llama-family causal LM (SmolLM2 from
            GGUF, `.gguf` files, tfllm-trained Llama causal LMs).
        folder: str or path. The bundle folder (replaced if it exists).
        tokenizer: a KerasHub tokenizer or None (token-id use only).
        recipes: sequence of `RECIPES` names. Default `("fp32",)`.
        max_length: int. KV cache slots: prompt plus generated tokens.
            Default 1,024. Decoding attends to every slot (masked), so a
            step costs more with a longer cache.
        prefill_lengths: sequence of int. Prefill buckets; each must be
            <= `max_length`. Default (32, 128).
        stop_token_ids: list of int or None (None: the tokenizer's end
            token).
        use_chat_template: bool or None. Whether the runtime formats
            prompts with the chat template (None: when the tokenizer has
            one).
        system_prompt: str or None. System message of chat prompts.
        generation_defaults: dict or None: `max_new_tokens`, `temperature`,
            `top_k`, `top_p` the runtime uses unless told otherwise.

    Returns:
        dict: the `generation.json` content.

    Raises:
        ValueError: a model the export does not cover, a bad recipe, or
            bucket lengths that do not fit the cache.
    """
    import time

    import keras

    from tfllm.utils.atomic import atomic_path

    recipes = list(recipes)
    if not recipes:
        raise ValueError("give at least one recipe")
    for recipe in recipes:
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; known: {RECIPES}")
    prefill_lengths = sorted(set(int(n) for n in prefill_lengths))
    if not prefill_lengths or prefill_lengths[0] < 1 \
            or prefill_lengths[-1] > max_length:
        raise ValueError(f"prefill lengths {prefill_lengths} must be >= 1 "
                         f"and <= max_length {max_length}")
    module = signatures_for(causal_lm, max_length)
    if stop_token_ids is None:
        end = getattr(tokenizer, "end_token_id", None)
        stop_token_ids = [] if end is None else [int(end)]
    settings = {
        "format": "tfllm-litert-causal-lm", "version": 1,
        "max_length": int(max_length), "prefill_lengths": prefill_lengths,
        "vocabulary_size": int(module.vocabulary_size),
        "num_layers": module.num_layers,
        "num_key_value_heads": module.kv_heads,
        "head_dim": module.head_dim,
        "stop_token_ids": [int(t) for t in stop_token_ids],
        "use_chat_template": use_chat_template,
        "system_prompt": system_prompt,
        "generation_defaults": dict(generation_defaults or {}),
        "model_files": {}, "conversion": {},
    }
    with atomic_path(folder) as temp:
        temp.mkdir(parents=True)
        converter = _Converter(module, prefill_lengths)
        try:
            for recipe in recipes:
                start = time.perf_counter()
                content = converter.convert(recipe)
                name = f"model_{recipe}.tflite"
                (temp / name).write_bytes(content)
                settings["model_files"][recipe] = name
                settings["conversion"][recipe] = {
                    "seconds": round(time.perf_counter() - start, 1),
                    "bytes": len(content),
                    "operators": sorted(builtin_op_names(content))}
        finally:
            converter.close()
        settings["model_file"] = settings["model_files"][recipes[0]]
        if tokenizer is not None:
            (temp / "tokenizer").mkdir()
            tokenizer.save_assets(str(temp / "tokenizer"))
            (temp / "tokenizer" / "config.json").write_text(json.dumps(
                keras.saving.serialize_keras_object(tokenizer), indent=2))
        (temp / "generation.json").write_text(
            json.dumps(settings, indent=2) + "\n")
    return settings


def load_bundle_tokenizer(folder):
    """The tokenizer saved in a bundle folder, or None if it has none."""
    import keras

    folder = pathlib.Path(folder) / "tokenizer"
    if not (folder / "config.json").is_file():
        return None
    import tfllm.generation.chat_tokenizer  # noqa: F401 (registers it)

    tokenizer = keras.saving.deserialize_keras_object(
        json.loads((folder / "config.json").read_text()))
    tokenizer.load_assets(str(folder))
    return tokenizer


def builtin_op_names(model_content):
    """The operator names in a `.tflite` flatbuffer (all subgraphs).

    Returns:
        set of str: e.g. `{"FULLY_CONNECTED", "BATCH_MATMUL", ...}`; custom
        ops appear as `CUSTOM:<name>`, Flex ops as `CUSTOM:Flex...`.
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(model_content), 0)
    names = {value: key for key, value in vars(schema.BuiltinOperator)
             .items() if not key.startswith("_")}
    found = set()
    for code in model.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.customCode
            if isinstance(custom, bytes):
                custom = custom.decode()
            found.add(f"CUSTOM:{custom}")
        else:
            found.add(names.get(builtin, str(builtin)))
    return found
