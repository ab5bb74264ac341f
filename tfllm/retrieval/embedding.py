"""Batched sentence embeddings and the fingerprint of an encoder's vocabulary.

An index is only meaningful with the encoder that built it: the encoder's
name and a SHA-256 of its tokenizer vocabulary are stored with every index
(`tfllm.retrieval.index`) and checked when it is loaded.
"""

import hashlib
import pathlib
import weakref

import numpy as np
import tensorflow as tf

from tfllm.retrieval.contrastive import SentenceEncoder
from tfllm.retrieval.contrastive import build_sentence_encoder

# One traced embedding function per encoder (traced once, reused).
_EMBED_FUNCTIONS = weakref.WeakKeyDictionary()


def vocabulary_fingerprint(tokenizer):
    """SHA-256 (hex) of a tokenizer's vocabulary, one token per line.

    Args:
        tokenizer: a KerasHub tokenizer with `get_vocabulary()`.

    Returns:
        str, 64 hex digits.
    """
    text = "\n".join(tokenizer.get_vocabulary())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_sentence_encoder(source="minilm", sequence_length=64):
    """A `SentenceEncoder` from a backbone name or a trained run.

    Args:
        source: str. A run folder holding `model.keras` (written by
            `scripts/faq_assistant.py train`), a `.keras` file, or a
            backbone name for `tfllm.backbones.load_backbone` (`"minilm"`).
        sequence_length: int. Used for backbone names only; a saved model
            keeps its own.

    Returns:
        `SentenceEncoder`.

    Raises:
        ValueError: the saved file is not a `SentenceEncoder` or is corrupt.
        BackboneNotAvailableError: see `tfllm.backbones.load_backbone`.
    """
    path = pathlib.Path(source)
    if path.is_dir() and (path / "model.keras").is_file():
        path = path / "model.keras"
    if path.suffix == ".keras" and path.is_file():
        import keras

        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as e:
            raise ValueError(f"{path}: cannot load the encoder: {e}") from e
        if not isinstance(model, SentenceEncoder):
            raise ValueError(f"{path}: a {type(model).__name__}, not a "
                             "SentenceEncoder")
        return model
    return build_sentence_encoder(source, sequence_length)


def embed_texts(encoder, texts, batch_size=128):
    """Unit-length embeddings of raw texts, in batches of similar length.

    Texts are sorted by length before batching (less padding) and the rows
    are returned in the input order.

    Args:
        encoder: `SentenceEncoder` with a preprocessor.
        texts: list of str.
        batch_size: int. Texts per forward pass.

    Returns:
        float32 numpy array `[len(texts), hidden_dim]`.
    """
    if not texts:
        return np.zeros((0, encoder.output_shape[-1]), np.float32)
    embed = _EMBED_FUNCTIONS.get(encoder)
    if embed is None:
        embed = tf.function(
            encoder.embed,
            input_signature=[tf.TensorSpec([None], tf.string)])
        _EMBED_FUNCTIONS[encoder] = embed
    order = np.argsort([len(t) for t in texts], kind="stable")
    rows = []
    for start in range(0, len(texts), batch_size):
        chunk = [texts[i] for i in order[start:start + batch_size]]
        rows.append(embed(tf.constant(chunk, tf.string)).numpy())
    out = np.empty((len(texts), rows[0].shape[1]), np.float32)
    out[order] = np.concatenate(rows, axis=0)
    return out
