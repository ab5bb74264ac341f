"""Zero-shot classification by embedding similarity with an encoder.

Texts and label descriptions are embedded by the mean of the encoder's
token outputs over the attention mask (`[CLS]` and `[SEP]` included), the
pooling sentence-transformers uses for all-MiniLM-L6-v2 (Reimers and
Gurevych 2019, "Sentence-BERT"), and a label scores by the cosine
similarity of its description to the text.
"""

import numpy as np
import tensorflow as tf

from tfllm.preprocessing.text_classification_preprocessor import (
    TextClassificationPreprocessor,
)


class EncoderScorer:
    """Mean-pooled embeddings and cosine similarities.

    Args:
        backbone: a KerasHub encoder backbone (BERT-like: `token_ids`,
            `segment_ids`, `padding_mask` in, `sequence_output` out).
        tokenizer: its tokenizer (with `[CLS]`/`[SEP]` or start/end ids).
        max_length: int. Sub-tokens per text, special tokens included;
            longer texts are truncated. Default 128.
        batch_size: int. Texts per forward pass. Default 64.
    """

    def __init__(self, backbone, tokenizer, max_length=128, batch_size=64):
        self.backbone = backbone
        self.preprocessor = TextClassificationPreprocessor(
            tokenizer, max_length)
        self.batch_size = batch_size
        self._forward = tf.function(self._pool, reduce_retracing=True)

    def _pool(self, inputs):
        outputs = self.backbone(inputs)
        hidden = outputs["sequence_output"] if isinstance(
            outputs, dict) else outputs
        mask = tf.cast(inputs["padding_mask"], hidden.dtype)[..., None]
        total = tf.reduce_sum(hidden * mask, axis=1)  # (B, H)
        return total / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)

    def embed(self, texts):
        """Mean-pooled embeddings.

        Args:
            texts: list of str.

        Returns:
            float32 array `[len(texts), hidden_dim]` (not normalised).
        """
        parts = []
        for first in range(0, len(texts), self.batch_size):
            packed = self.preprocessor(
                tf.constant(texts[first:first + self.batch_size]))
            inputs = {k: v.to_tensor() for k, v in packed.items()}
            parts.append(self._forward(inputs).numpy())
        if not parts:
            return np.zeros((0, self.backbone.hidden_dim), np.float32)
        return np.concatenate(parts)

    def score(self, texts, descriptions):
        """Cosine similarities of texts and descriptions.

        Args:
            texts: list of str, `n`.
            descriptions: list of str, `d`.

        Returns:
            float64 array `[n, d]` in [-1, 1].
        """
        a = self.embed(list(texts)).astype(np.float64)
        b = self.embed(list(descriptions)).astype(np.float64)
        a /= np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
        b /= np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
        return a @ b.T
