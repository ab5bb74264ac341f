"""Tiny PyTorch-format checkpoints written without PyTorch, and a numpy BERT.

`write_torch_zip` writes what `torch.save(state_dict, path)` writes (the
zip layout of PyTorch's `serialization.py`: `<name>/data.pkl`,
`<name>/data/<key>`, `<name>/version`), with the pickle spelled out opcode
by opcode, so tests need no PyTorch. `bert_forward` is Hugging Face
`BertModel`'s forward pass (Devlin et al. 2019) in numpy, the reference the
converted KerasHub backbone must match.
"""

import json
import struct
import zipfile

import numpy as np
from scipy.special import erf

_STORAGE = {np.dtype("<f4"): "FloatStorage", np.dtype("<i8"): "LongStorage",
            np.dtype("<f2"): "HalfStorage"}


def _str(text):
    raw = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(value):
    return b"J" + struct.pack("<i", value)


def _ints(values):
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def write_torch_zip(path, tensors, extra_global=None):
    """Writes `{name: (storage_key, storage, offset, shape, stride)}`.

    `storage` is a 1-D numpy array (float32, float16 or int64); several
    tensors may share a key (and so a storage), as PyTorch's do.
    `extra_global` (`"module\\nname"`) adds a value built from that global,
    to test that the reader refuses it.
    """
    pickle = b"\x80\x02}("  # PROTO 2, EMPTY_DICT, MARK
    storages = {}
    for name, (key, storage, offset, shape, stride) in tensors.items():
        storages[key] = storage
        pickle += _str(name) + b"ctorch._utils\n_rebuild_tensor_v2\n("
        pickle += (b"(" + _str("storage") + b"ctorch\n"
                   + _STORAGE[storage.dtype].encode() + b"\n" + _str(key)
                   + _str("cpu") + _int(storage.size) + b"tQ")  # BINPERSID
        pickle += _int(offset) + _ints(shape) + _ints(stride)
        pickle += b"\x89ccollections\nOrderedDict\n)Rt"  # False, hooks
        pickle += b"R"  # REDUCE: _rebuild_tensor_v2(*args)
    if extra_global:
        pickle += _str("evil") + b"c" + extra_global.encode() + b"\n(" + \
            _str("echo hi") + b"tR"
    pickle += b"u."  # SETITEMS, STOP
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle)
        archive.writestr("archive/version", "3\n")
        for key, storage in storages.items():
            archive.writestr(f"archive/data/{key}",
                             storage.astype(storage.dtype.newbyteorder("<"))
                             .tobytes())
    return path


def contiguous(key, array):
    """A `write_torch_zip` entry for a contiguous array with its own key."""
    array = np.asarray(array)
    strides = [s // array.itemsize for s in array.strides]
    return key, array.reshape(-1), 0, array.shape, strides


PIECES = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "中", "国", "人",
          "北", "京", "a", "##b", "cctv", "的", "，", "。", ","]
CONFIG = {
    "architectures": ["BertModel"], "model_type": "bert",
    "vocab_size": len(PIECES), "hidden_size": 8, "num_hidden_layers": 2,
    "num_attention_heads": 2, "intermediate_size": 16,
    "max_position_embeddings": 12, "type_vocab_size": 2,
    "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 0,
}


def tiny_bert_state(config=CONFIG, seed=0):
    """Random Hugging Face BERT parameters `{name: float32 array}`."""
    rng = np.random.default_rng(seed)
    h, f = config["hidden_size"], config["intermediate_size"]

    def rand(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    state = {
        "embeddings.word_embeddings.weight": rand(config["vocab_size"], h),
        "embeddings.position_embeddings.weight":
            rand(config["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight":
            rand(config["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": 1 + rand(h),
        "embeddings.LayerNorm.bias": rand(h),
        "pooler.dense.weight": rand(h, h), "pooler.dense.bias": rand(h),
    }
    shapes = {"attention.self.query": (h, h), "attention.self.key": (h, h),
              "attention.self.value": (h, h),
              "attention.output.dense": (h, h),
              "intermediate.dense": (f, h), "output.dense": (h, f)}
    for i in range(config["num_hidden_layers"]):
        for name, shape in shapes.items():
            state[f"encoder.layer.{i}.{name}.weight"] = rand(*shape)
            state[f"encoder.layer.{i}.{name}.bias"] = rand(shape[0])
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            state[f"encoder.layer.{i}.{name}.weight"] = 1 + rand(h)
            state[f"encoder.layer.{i}.{name}.bias"] = rand(h)
    return state


def write_tiny_m3e(folder, state, config=CONFIG, pieces=PIECES):
    """An m3e-like folder: pytorch_model.bin, config.json, tokenizer.json."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {"embeddings.position_ids": contiguous(
        "0", np.arange(config["max_position_embeddings"])[None])}
    for i, (name, value) in enumerate(state.items()):
        entries[name] = contiguous(str(i + 1), value)
    write_torch_zip(folder / "pytorch_model.bin", entries)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text(json.dumps({"model": {
        "type": "WordPiece", "unk_token": "[UNK]",
        "vocab": {p: i for i, p in enumerate(pieces)}}}))
    return folder


def _layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def bert_forward(state, config, token_ids, padding_mask, exact_gelu=True):
    """Hugging Face `BertModel` sequence output, float64 numpy.

    Hugging Face's `"gelu"` is the exact `x * Phi(x)`; KerasHub's
    `BertBackbone` always uses the tanh approximation (Hendrycks & Gimpel
    2016, Eq. 2), as Google's original BERT code did.

    Args:
        state: dict of HF parameter names -> arrays.
        config: HF BERT config dict.
        token_ids: int array `[batch, length]`.
        padding_mask: bool array `[batch, length]`.
        exact_gelu: bool. False uses the tanh approximation.

    Returns:
        float64 array `[batch, length, hidden_size]`.
    """
    s = {k: v.astype(np.float64) for k, v in state.items()}
    eps, heads = config["layer_norm_eps"], config["num_attention_heads"]
    batch, length = token_ids.shape
    x = (s["embeddings.word_embeddings.weight"][token_ids]
         + s["embeddings.position_embeddings.weight"][:length]
         + s["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x, s["embeddings.LayerNorm.weight"],
                    s["embeddings.LayerNorm.bias"], eps)
    bias = np.where(padding_mask, 0.0, -1e9)[:, None, None, :]
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def dense(v, name):
            return v @ s[p + name + ".weight"].T + s[p + name + ".bias"]

        def split(v):  # (B, T, H) -> (B, heads, T, H / heads)
            return v.reshape(batch, length, heads, -1).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(x, "attention.self." + n))
                   for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]) + bias
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(
            batch, length, -1)
        x = _layer_norm(x + dense(context, "attention.output.dense"),
                        s[p + "attention.output.LayerNorm.weight"],
                        s[p + "attention.output.LayerNorm.bias"], eps)
        hidden = dense(x, "intermediate.dense")
        if exact_gelu:
            hidden = 0.5 * hidden * (1 + erf(hidden / np.sqrt(2)))
        else:
            hidden = 0.5 * hidden * (1 + np.tanh(np.sqrt(2 / np.pi) * (
                hidden + 0.044715 * hidden ** 3)))
        x = _layer_norm(x + dense(hidden, "output.dense"),
                        s[p + "output.LayerNorm.weight"],
                        s[p + "output.LayerNorm.bias"], eps)
    return x
