"""Plain-text corpora for pre-training: read, split, tokenize, pack.

A corpus is a list of documents (str). Readers:

- `text`: a UTF-8 text file. If it has blank lines, blank lines separate
  documents and the lines of a document are joined with a newline (the
  input layout of BERT's `create_pretraining_data.py`); otherwise every
  non-empty line is one document.
- `lines`: every non-empty line is one document, blank lines or not.
- `jsonl`: one JSON object per line; its `"text"` field is a document
  (CLUENER and most JSONL corpora).
- `conll`: a CoNLL column file; each sentence's first column joined with
  spaces is a document (CoNLL-2003 training text for domain-adaptive
  pre-training). `conll-chars` joins without spaces (Chinese NER files).
- `weibo`: Weibo NER's CoNLL files, whose tokens are a character followed by
  its position in a word (`科0 技1`, or the placeholder `\ufffd\ufffd` then
  the position); the positions are stripped and the characters joined.

Tokenized documents are packed into fixed-length blocks across document
boundaries (RoBERTa's FULL-SENTENCES packing, Liu et al. 2019, Sec. 4.2),
with a separator token between documents: no document is truncated and the
last, shorter block is kept, so no tokens are wasted.
"""

import json
import pathlib
import random

import numpy as np
import tensorflow as tf

from tfllm.data.errors import DataFormatError
from tfllm.data.pipeline import EncodedWindows

FORMATS = ("text", "lines", "jsonl", "conll", "conll-chars", "weibo")


def _read_lines(path):
    raw = pathlib.Path(path).read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataFormatError(
            path, line, f"not valid UTF-8 (byte {raw[e.start]:#04x} at "
            f"offset {e.start}); expected UTF-8 text") from None
    return text.splitlines()


def _text_documents(lines, blank_separated):
    documents, current = [], []
    for line in lines:
        line = line.strip()
        if not line:
            if current:
                documents.append("\n".join(current))
            current = []
        elif blank_separated:
            current.append(line)
        else:
            documents.append(line)
    if current:
        documents.append("\n".join(current))
    return documents


def _jsonl_documents(path, lines):
    documents = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(
                path, number, f"not a JSON object ({e.msg})") from None
        if not isinstance(record, dict) or not isinstance(
                record.get("text"), str):
            raise DataFormatError(
                path, number, 'expected a JSON object with a "text" string')
        if record["text"].strip():
            documents.append(record["text"].strip())
    return documents


def _weibo_character(path, number, token):
    width = 2 if token.startswith("\ufffd\ufffd") else 1
    if len(token) <= width or not token[width:].isdigit():
        raise DataFormatError(
            path, number, f"token {token!r} is not a character followed by "
            "its position in the word (Weibo NER format, e.g. 科0)")
    return token[:width]


def _conll_documents(path, lines, joiner, weibo=False):
    documents, words = [], []
    for number, line in enumerate(lines, 1):
        columns = line.split()
        if not columns or columns[0] == "-DOCSTART-":
            if words:
                documents.append(joiner.join(words))
            words = []
            continue
        words.append(_weibo_character(path, number, columns[0])
                     if weibo else columns[0])
    if words:
        documents.append(joiner.join(words))
    return documents


def read_corpus(path, corpus_format=None):
    """Reads one corpus file into documents.

    Args:
        path: str or path. A UTF-8 file (a byte-order mark is allowed).
        corpus_format: str or None. One of `FORMATS` (module docstring).
            None: `jsonl` for `.json`/`.jsonl` files, else `text`.

    Returns:
        list of str, the documents in file order, stripped, none empty.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: bytes that are not UTF-8 (`file:line`), a JSONL
            line that is not an object with `"text"`, a Weibo token without
            its position digits, or no text at all.
        ValueError: an unknown `corpus_format`.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such corpus file")
    if corpus_format is None:
        corpus_format = "jsonl" if path.suffix in (".json", ".jsonl") else (
            "text")
    if corpus_format not in FORMATS:
        raise ValueError(
            f"unknown corpus format {corpus_format!r}; expected one of "
            f"{FORMATS}")
    lines = _read_lines(path)
    if corpus_format == "text":
        blank = any(not line.strip() for line in lines[:-1])
        documents = _text_documents(lines, blank)
    elif corpus_format == "lines":
        documents = _text_documents(lines, False)
    elif corpus_format == "jsonl":
        documents = _jsonl_documents(path, lines)
    else:
        joiner = "" if corpus_format in ("conll-chars", "weibo") else " "
        documents = _conll_documents(path, lines, joiner,
                                     weibo=corpus_format == "weibo")
    if not documents:
        raise DataFormatError(path, None, "no text; expected documents")
    return documents


def read_corpora(specs):
    """Reads several corpus files, given as `[FORMAT:]PATH` strings.

    Args:
        specs: str (comma-separated) or list of str. Each item is a path,
            optionally prefixed by a format and a colon, e.g.
            `"songci.txt,jsonl:cluener2020/train.json"`.

    Returns:
        list of str: the documents of every file, in order.
    """
    if isinstance(specs, str):
        specs = [s for s in specs.split(",") if s.strip()]
    documents = []
    for spec in specs:
        spec = spec.strip()
        prefix, _, rest = spec.partition(":")
        if rest and prefix in FORMATS:
            documents += read_corpus(rest, prefix)
        else:
            documents += read_corpus(spec)
    return documents


def split_documents(documents, validation_fraction=0.05, seed=0):
    """Shuffles documents (seeded) and holds out a validation share.

    Args:
        documents: list of str.
        validation_fraction: float in [0, 1). Share of documents held out;
            at least one document when the fraction is positive.
        seed: int. Shuffle seed; the same seed gives the same split.

    Returns:
        `(train, validation)`: two lists of str.

    Raises:
        ValueError: fewer than two documents for a held-out split, or a
            fraction outside [0, 1).
    """
    if not 0 <= validation_fraction < 1:
        raise ValueError(
            "validation_fraction must be in [0, 1), got "
            f"{validation_fraction}")
    documents = list(documents)
    random.Random(seed).shuffle(documents)
    if validation_fraction == 0:
        return documents, []
    if len(documents) < 2:
        raise ValueError("a held-out split needs at least two documents")
    count = max(1, round(len(documents) * validation_fraction))
    return documents[count:], documents[:count]


def tokenize_documents(tokenizer, documents, chunk_size=4096):
    """Token ids of each document, with a KerasHub tokenizer.

    Args:
        tokenizer: `keras_hub.tokenizers.Tokenizer` (WordPiece, BPE, ...).
        documents: list of str.
        chunk_size: int. Documents per tokenizer call.

    Returns:
        list of int32 numpy arrays, one per document.
    """
    ids = []
    for start in range(0, len(documents), chunk_size):
        chunk = tf.constant(documents[start:start + chunk_size], tf.string)
        rows = tokenizer(chunk)  # eager KerasHub calls return lists
        if hasattr(rows, "to_list"):
            rows = rows.to_list()
        ids += [np.asarray(row, np.int32) for row in rows]
    return ids


def _stream(document_ids, separator_id, after_last):
    parts = []
    for index, ids in enumerate(document_ids):
        parts.append(np.asarray(ids, np.int32))
        if separator_id is not None and (
                after_last or index < len(document_ids) - 1):
            parts.append(np.array([separator_id], np.int32))
    return np.concatenate(parts) if parts else np.zeros([0], np.int32)


def pack_masked_lm_blocks(document_ids, sequence_length, start_id, end_id,
                          separator_id=None):
    """Packs documents into `[start] tokens... [end]` blocks (for BERT).

    The documents form one stream, with `separator_id` between documents,
    cut into pieces of `sequence_length - 2` tokens; each piece becomes
    `[start_id] + piece + [end_id]`. The last block is shorter when the
    stream does not divide evenly: every token is in exactly one block.

    Args:
        document_ids: list of int sequences.
        sequence_length: int >= 3. Block length, special tokens included.
        start_id, end_id: int. E.g. `[CLS]` and `[SEP]`.
        separator_id: int or None. Between documents; default `end_id`.

    Returns:
        list of int32 numpy arrays, each of length <= `sequence_length`.
    """
    if sequence_length < 3:
        raise ValueError(
            f"sequence_length must be >= 3, got {sequence_length}")
    separator_id = end_id if separator_id is None else separator_id
    stream = _stream(document_ids, separator_id, after_last=False)
    body = sequence_length - 2
    return [
        np.concatenate([[start_id], stream[i:i + body], [end_id]]).astype(
            np.int32)
        for i in range(0, len(stream), body)
    ]


def pack_causal_lm_blocks(document_ids, sequence_length, end_id):
    """Packs documents into `(inputs, targets)` blocks for next-token LM.

    Each document is followed by `end_id` (GPT-2's `<|endoftext|>`), and the
    stream is preceded by one `end_id` so the first token is a target too.
    Block `i` covers stream positions `[i*L, i*L + L]` (`L` =
    `sequence_length`): inputs are its first `L` tokens, targets its last
    `L`, i.e. the labels are shifted exactly once and
    consecutive blocks share one token, so every stream token after the
    first is a target exactly once. The last block may be shorter.

    Args:
        document_ids: list of int sequences.
        sequence_length: int >= 1. Inputs per block.
        end_id: int. Document separator.

    Returns:
        `(inputs, targets)`: two lists of int32 numpy arrays of equal
        lengths, `targets[k][t] == stream token after inputs[k][t]`.
    """
    if sequence_length < 1:
        raise ValueError(
            f"sequence_length must be >= 1, got {sequence_length}")
    stream = np.concatenate(
        [[end_id], _stream(document_ids, end_id, after_last=True)]
    ).astype(np.int32)
    return causal_lm_pairs(stream, sequence_length)


def causal_lm_pairs(token_ids, sequence_length):
    """Cuts one token stream into `(inputs, targets)` next-token blocks.

    Args:
        token_ids: int sequence, e.g. `[5, 6, 7, 8]`.
        sequence_length: int. Longest block.

    Returns:
        `(inputs, targets)` lists of int32 arrays: for `[5, 6, 7, 8]` and
        any `sequence_length >= 3`, inputs `[[5, 6, 7]]` and targets
        `[[6, 7, 8]]`, the pairs (5->6), (6->7), (7->8).
    """
    token_ids = np.asarray(token_ids, np.int32)
    inputs, targets = [], []
    for i in range(0, len(token_ids) - 1, sequence_length):
        block = token_ids[i:i + sequence_length + 1]
        inputs.append(block[:-1])
        targets.append(block[1:])
    return inputs, targets


def _ragged(rows):
    return tf.RaggedTensor.from_row_lengths(
        np.concatenate(rows).astype(np.int32),
        np.array([len(r) for r in rows], np.int64),
    )


def encode_masked_lm(blocks):
    """`EncodedWindows` of packed blocks for `make_dataset` (masked LM).

    Labels are the unmasked token ids; the masking batch transform
    (`tfllm.preprocessing.masking.DynamicMasking`) replaces labels and
    weights with those of the masked positions.
    """
    token_ids = _ragged(blocks)
    features = {
        "token_ids": token_ids,
        "padding_mask": tf.ones_like(token_ids),
        "segment_ids": tf.zeros_like(token_ids),
    }
    return EncodedWindows(
        features, token_ids, tf.ones_like(token_ids, tf.float32))


def encode_causal_lm(inputs, targets):
    """`EncodedWindows` of `(inputs, targets)` blocks (causal LM).

    Padding added by batching has weight 0, every real target weight 1.
    """
    token_ids = _ragged(inputs)
    features = {
        "token_ids": token_ids,
        "padding_mask": tf.ones_like(token_ids),
    }
    labels = _ragged(targets)
    return EncodedWindows(features, labels, tf.ones_like(labels, tf.float32))
