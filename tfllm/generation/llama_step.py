"""A lean cached forward pass for Llama-family KerasHub causal LMs.

KerasHub's `LlamaCausalLM.call_with_cache` is written for every backend and
every use: each attention layer slices its cache out of the stacked
`[batch, layers, 2, length, kv_heads, head_dim]` tensor, repeats keys and
values `num_query_heads / num_key_value_heads` times (grouped-query
attention done as multi-head attention), builds a padding-and-causal mask
per layer, and the layers' caches are stacked again after every token.
At batch 1 on a CPU these copies and masks cost more than the matmuls.

This module computes the same function (up to float32 rounding order)
with the same weights (read from
the backbone's variables at each call, so fine-tuning is seen) and the
same cache layout, so it plugs into `tfllm.generation.generate`'s loops:

- grouped-query attention without repeating keys and values: the queries
  of one key/value head are grouped, `[batch, kv_heads, groups, head_dim]`,
  and attend to that head's cache directly (Ainslie et al., 2023, "GQA");
- one attention mask per step, built once from the position, not per layer;
- the new key/value column is written into the preallocated cache in place
  (`dynamic_update_slice` under XLA, which the decoding loop is compiled
  with when this path is taken).

`tfllm.generation.generate` runs the whole decoding loop built on it as one
XLA program (1.6-2.4x KerasHub's step in tokens/s at batch 1 and 6-7.6x
at batch 8 for SmolLM2-135M on a 2-core Xeon; BENCHMARKS.md, "Side by side
with llama.cpp after the lean decoding step").

It is taken only where it computes what KerasHub computes: a
`Llama3CausalLM` / `LlamaCausalLM` whose layers are KerasHub's own (no
tfllm PEFT method of any kind, no replaced methods, no quantized layers) in
float32 with dropout off at inference.
`supports()` says whether a model qualifies; everything else keeps
KerasHub's path.
"""

import keras
import tensorflow as tf

_DENSE_TYPES = (keras.layers.EinsumDense, keras.layers.Dense)


def supports(causal_lm):
    """Whether the lean step can replace `causal_lm.call_with_cache`.

    Args:
        causal_lm: any KerasHub causal LM.

    Returns:
        bool: True for a float32 Llama-family model (`LlamaBackbone`,
        `Llama3Backbone`, SmolLM2 loaded from GGUF) whose dense layers are
        plain Keras layers (not LoRA / adapters / quantized) and whose
        activation is SiLU.
    """
    import keras_hub

    backbone = getattr(causal_lm, "backbone", None)
    llama_types = tuple(
        t for t in (getattr(keras_hub.models, "LlamaBackbone", None),
                    getattr(keras_hub.models, "Llama3Backbone", None))
        if t is not None)
    if not isinstance(backbone, llama_types):
        return False
    if any(_overrides_a_method(obj) for obj in (
            causal_lm, backbone, backbone.token_embedding,
            backbone.layer_norm)):
        return False
    if backbone.dtype_policy.name != "float32":
        return False
    if not hasattr(causal_lm, "call_with_cache"):
        return False
    # Any PEFT method (prefix and prompt tuning replace methods on layer
    # instances, which the lean step would never call) keeps KerasHub's path.
    if "peft_state" in vars(causal_lm) or "peft_state" in vars(backbone):
        return False
    embedding = backbone.token_embedding
    if (getattr(embedding, "logit_soft_cap", None) is not None
            or getattr(embedding, "reverse_dtype", None) not in (
                None, "float32")):
        return False
    from keras_hub.src.models.llama.llama_attention import LlamaAttention
    from keras_hub.src.models.llama.llama_decoder import (
        LlamaTransformerDecoder,
    )

    for layer in backbone.transformer_layers:
        # Exact types: a subclass may change what the layer computes.
        if (type(layer) is not LlamaTransformerDecoder
                or type(layer._self_attention_layer) is not LlamaAttention):
            return False
        attention = layer._self_attention_layer
        parts = [layer, attention, attention.rotary_embedding_layer,
                 layer._self_attention_layernorm,
                 layer._feedforward_layernorm]
        if any(_overrides_a_method(part) for part in parts):
            return False
        dense = [attention._query_dense, attention._key_dense,
                 attention._value_dense, attention._output_dense,
                 layer._feedforward_gate_dense,
                 layer._feedforward_intermediate_dense,
                 layer._feedforward_output_dense]
        for d in dense:
            if type(d) not in _DENSE_TYPES or d.quantization_mode:
                return False
            if getattr(d, "bias", None) is not None:
                return False
            if getattr(d, "activation", None) not in (
                    None, keras.activations.linear):
                return False
        if getattr(layer.activation, "__name__", "") != "silu":
            return False
    return True


# Methods Keras itself wraps on every instance (and the compiled loss).
_KERAS_INSTANCE_METHODS = frozenset({"build", "quantize", "loss"})


def _overrides_a_method(obj):
    """Whether an instance attribute shadows a method of its class (as
    `tfllm.peft.base.override_method` does), other than Keras' own."""
    return any(callable(value) and callable(getattr(type(obj), name, None))
               and name not in _KERAS_INSTANCE_METHODS
               for name, value in vars(obj).items())


def rms_norm(x, scale, epsilon):
    """RMSNorm (Zhang & Sennrich, 2019): `x / sqrt(mean(x^2) + epsilon) *
    scale` over the last axis; float32 `[..., hidden]`."""
    variance = tf.reduce_mean(tf.square(x), axis=-1, keepdims=True)
    return x * tf.math.rsqrt(variance + epsilon) * scale


def rotate_half(t, cos, sin):
    """Rotary position embedding (Su et al., 2021, "RoFormer"), Hugging
    Face's half-split layout: `t * cos + concat(-second, first) * sin`.

    Args:
        t: float32 `[..., heads, head_dim]`.
        cos: float32, broadcastable to `t`: the angles' cosines at each
            token's position.
        sin: float32, the same shape as `cos`.
    """
    first, second = tf.split(t, 2, axis=-1)
    return t * cos + tf.concat([-second, first], axis=-1) * sin


def _matrix(kernel, keep_last=False):
    """A dense or EinsumDense kernel as a 2-D `[inputs, outputs]` matrix.

    `[hidden, heads, head_dim]` (Q/K/V) becomes `[hidden, heads * head_dim]`
    and, with `keep_last`, `[heads, head_dim, hidden]` (the attention
    output) becomes `[heads * head_dim, hidden]`; row-major order is kept,
    so TensorFlow's reshape copies nothing.
    """
    if keep_last:
        return tf.reshape(kernel, [-1, kernel.shape[-1]])
    return tf.reshape(kernel, [kernel.shape[0], -1])


def decoder_weights(causal_lm):
    """The model's weights as the 2-D tensors `forward_with_cache` reads.

    Called outside the XLA-compiled decoding loop and passed into it as
    arguments: the reshapes are free there, while inside an XLA cluster
    reshaping a 3-D kernel variable made every projection about 3x slower
    on CPU (measured on SmolLM2-135M). Reading the variables at each call
    means weights changed by training are used at the next `generate`.

    Args:
        causal_lm: a model for which `supports(causal_lm)` holds.

    Returns:
        dict: `embeddings` `[vocabulary_size, hidden]`, `lm_head`
        `[hidden, vocabulary_size]` or None (tied embeddings), `norm`
        `[hidden]`, and `layers`, a list of dicts of `attention_norm`,
        `query`, `key`, `value`, `output`, `mlp_norm`, `gate`, `up`, `down`.
    """
    backbone = causal_lm.backbone
    embedding = backbone.token_embedding
    layers = []
    for layer in backbone.transformer_layers:
        attention = layer._self_attention_layer
        layers.append({
            "attention_norm": tf.convert_to_tensor(
                layer._self_attention_layernorm.scale),
            "query": _matrix(attention._query_dense.kernel),
            "key": _matrix(attention._key_dense.kernel),
            "value": _matrix(attention._value_dense.kernel),
            "output": _matrix(attention._output_dense.kernel, True),
            "mlp_norm": tf.convert_to_tensor(
                layer._feedforward_layernorm.scale),
            "gate": tf.convert_to_tensor(
                layer._feedforward_gate_dense.kernel),
            "up": tf.convert_to_tensor(
                layer._feedforward_intermediate_dense.kernel),
            "down": tf.convert_to_tensor(
                layer._feedforward_output_dense.kernel),
        })
    return {
        "embeddings": tf.convert_to_tensor(embedding.embeddings),
        "lm_head": (None if embedding.tie_weights
                    else tf.convert_to_tensor(embedding.reverse_embeddings)),
        "norm": tf.convert_to_tensor(backbone.layer_norm.scale),
        "layers": layers,
    }


def forward_with_cache(causal_lm, weights, token_ids, cache,
                       cache_update_index, logits=True):
    """Logits of `token_ids` placed at `cache_update_index`, and the cache.

    Computes what KerasHub's `LlamaCausalLM.call_with_cache` computes, for
    models where `supports(causal_lm)` holds.

    Args:
        causal_lm: the model (read for its hyper-parameters and its rotary
            layer, not for weights).
        weights: `decoder_weights(causal_lm)`.
        token_ids: int32 `[batch_size, n]`: the tokens at positions
            `cache_update_index .. cache_update_index + n - 1` (`n` = 1 when
            decoding, the whole buffer when filling the cache).
        cache: float32 `[batch_size, num_layers, 2, max_length,
            num_key_value_heads, head_dim]` (keys at index 0, values at 1).
        cache_update_index: int32 scalar.
        logits: bool. False skips the vocabulary projection (cache filling)
            and returns None for the logits.

    Returns:
        `(logits, cache)`: float32 `[batch_size, n, vocabulary_size]` (or
        None) and the cache with positions `cache_update_index ..+n`
        written. Each token attends to the cached positions up to and
        including its own.
    """
    backbone = causal_lm.backbone
    batch_size = tf.shape(token_ids)[0]
    length = tf.shape(token_ids)[1]
    max_length = tf.shape(cache)[3]
    num_heads = backbone.num_query_heads
    kv_heads = backbone.num_key_value_heads
    groups = num_heads // kv_heads
    hidden = backbone.hidden_dim
    head_dim = hidden // num_heads
    epsilon = backbone.layer_norm_epsilon
    scale = 1.0 / float(head_dim) ** 0.5

    # Query i (at position index + i) sees key positions <= index + i.
    query_positions = cache_update_index + tf.range(length)
    visible = tf.range(max_length)[None, :] <= query_positions[:, None]
    bias = tf.where(visible, 0.0, -1e9)[None, None, None]  # [1,1,1,n,T]

    # Rotary angles once per step (every layer uses the same ones), from
    # the first layer's own rotary layer so Llama 3 frequency scaling is
    # honoured: cos/sin `[1, n, 1, head_dim]`.
    rotary = backbone.transformer_layers[0]._self_attention_layer \
        .rotary_embedding_layer
    cos, sin = rotary._compute_cos_sin_embedding(
        tf.zeros([1, length, 1, head_dim]), cache_update_index)

    rows = batch_size * length
    x = tf.gather(weights["embeddings"], tf.reshape(token_ids, [-1]))
    for i, layer in enumerate(weights["layers"]):
        h = rms_norm(x, layer["attention_norm"], epsilon)
        query = tf.reshape(tf.matmul(h, layer["query"]),
                           [batch_size, length, num_heads, head_dim])
        key = tf.reshape(tf.matmul(h, layer["key"]),
                         [batch_size, length, kv_heads, head_dim])
        value = tf.reshape(tf.matmul(h, layer["value"]),
                           [batch_size, length, kv_heads, head_dim])
        query, key = rotate_half(query, cos, sin), rotate_half(key, cos, sin)
        update = tf.stack([key, value], axis=1)[:, None]  # [b,1,2,n,kv,hd]
        cache = keras.ops.slice_update(
            cache, [0, i, 0, cache_update_index, 0, 0], update)
        keys = cache[:, i, 0]  # [b, T, kv, hd]
        values = cache[:, i, 1]
        # Grouped queries: head u = kv * groups + g reads kv head kv, the
        # cache is never repeated per query head.
        grouped = tf.reshape(query,
                             [batch_size, length, kv_heads, groups, head_dim])
        scores = tf.einsum("bqkgh,btkh->bkgqt", grouped, keys) * scale
        probabilities = tf.nn.softmax(scores + bias, axis=-1)
        mixed = tf.einsum("bkgqt,btkh->bqkgh", probabilities, values)
        mixed = tf.reshape(mixed, [rows, num_heads * head_dim])
        x = x + tf.matmul(mixed, layer["output"])
        h = rms_norm(x, layer["mlp_norm"], epsilon)
        gate = tf.nn.silu(tf.matmul(h, layer["gate"]))
        x = x + tf.matmul(gate * tf.matmul(h, layer["up"]), layer["down"])
    if not logits:
        return None, cache
    x = rms_norm(x, weights["norm"], epsilon)
    if weights["lm_head"] is None:
        out = tf.matmul(x, weights["embeddings"], transpose_b=True)
    else:
        out = tf.matmul(x, weights["lm_head"])
    return tf.reshape(out, [batch_size, length, -1]), cache
