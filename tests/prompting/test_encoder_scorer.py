import numpy as np

from tiny import tiny_backbone
from tiny import tiny_tokenizer

from tfllm.prompting.encoder_scorer import EncoderScorer

TEXTS = ["anna visited lyon .", "the board met several investors from porto",
         "zorbex"]
DESCRIPTIONS = ["lyon", "the board of investors again"]


def _manual_embedding(backbone, tokenizer, text):
    """Mean of the unpadded token outputs, [CLS] and [SEP] included."""
    ids = [tokenizer.cls_token_id] + np.asarray(
        tokenizer(text)).tolist() + [tokenizer.sep_token_id]
    ids = np.asarray([ids], np.int32)
    out = backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
                    "padding_mask": np.ones_like(ids)})["sequence_output"]
    return np.asarray(out)[0].mean(axis=0)


def test_scores_equal_numpy_cosine_of_mean_pooled_outputs():
    backbone, tokenizer = tiny_backbone(), tiny_tokenizer()
    scorer = EncoderScorer(backbone, tokenizer, max_length=32, batch_size=2)
    a = np.stack([_manual_embedding(backbone, tokenizer, t) for t in TEXTS])
    b = np.stack([_manual_embedding(backbone, tokenizer, t)
                  for t in DESCRIPTIONS])
    # Texts of different lengths share a padded batch: padding is masked.
    np.testing.assert_allclose(scorer.embed(TEXTS), a, atol=1e-5)
    cosine = (a @ b.T) / np.outer(np.linalg.norm(a, axis=1),
                                  np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(scorer.score(TEXTS, DESCRIPTIONS), cosine,
                               atol=1e-5)
