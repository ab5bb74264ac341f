"""The in-batch softmax of two-tower retrieval, with the sampling-bias
(logQ) correction and accidental hits removed.

With in-batch negatives, item j appears as a negative in proportion to its
frequency q_j, so popular items are over-penalised. Yi et al., "Sampling-
Bias-Corrected Neural Modeling for Large Corpus Item Recommendations"
(RecSys 2019) correct each logit by *subtracting* log q_j; adding it (the
sign error of TensorFlow Recommenders' first `SamplingProbablityCorrection`)
doubles the penalty instead. A candidate that is the row's own positive item
occurring again in the batch is not a negative (`remove_accidental_hits`,
as in `tfrs.tasks.Retrieval`). The correction belongs to training only:
evaluation and serving rank by the raw scores.
"""

import numpy as np
import tensorflow as tf

# Logit of a masked cell: large and negative (finite in float32 and
# bfloat16; -inf in float16). The label's own cell is never masked, so the
# cross-entropy stays finite either way.
MASKED_LOGIT = -1e9


def log_sampling_probabilities(item_counts):
    """log q per item from training interaction counts.

    Args:
        item_counts: int array `[num_items + 1]` (index 0 the padding).

    Returns:
        float32 array `[num_items + 1]`: log(count / total); items never
        seen get log(0.5 / total) (they are never sampled as in-batch
        positives, so the value only has to be finite).
    """
    counts = np.asarray(item_counts, np.float64)
    total = max(counts.sum(), 1.0)
    return np.log(np.maximum(counts, 0.5) / total).astype(np.float32)


def corrected_in_batch_logits(scores, candidate_ids, candidate_log_q=None,
                              temperature=1.0, remove_accidental_hits=True):
    """Logits of the in-batch softmax: scaled, logQ-corrected, hits masked.

    Args:
        scores: float tensor `[batch, batch]`: `scores[i, j]` is the dot
            product of query i and the positive candidate of row j (row i's
            label is column i).
        candidate_ids: int tensor `[batch]`. Item id of each column.
        candidate_log_q: float tensor `[batch]` or None. log of each
            column's item sampling probability; None: no correction.
        temperature: float. Scores are divided by it first.
        remove_accidental_hits: bool. Mask cells (i, j), j != i, whose item
            equals row i's positive.

    Returns:
        float tensor `[batch, batch]`.
    """
    logits = scores / temperature
    if candidate_log_q is not None:
        logits = logits - tf.cast(candidate_log_q, logits.dtype)[None, :]
    if remove_accidental_hits:
        ids = tf.convert_to_tensor(candidate_ids)
        same = tf.equal(ids[:, None], ids[None, :])
        hits = tf.logical_and(
            same, tf.logical_not(tf.eye(tf.shape(ids)[0], dtype=tf.bool)))
        logits = tf.where(hits, tf.cast(MASKED_LOGIT, logits.dtype), logits)
    return logits


def in_batch_softmax_loss(scores, candidate_ids, candidate_log_q=None,
                          temperature=1.0, remove_accidental_hits=True):
    """Per-row cross-entropy of the in-batch softmax (label of row i: i).

    Args: as `corrected_in_batch_logits`.

    Returns:
        float32 tensor `[batch]`; TFRS reports the SUM over rows, the trainer
        of `TwoTowerRecommender` the mean over the batch's positives.

    Example (outside case BR-17 of this project's tests): scores
    `[[2, 1, .5], [.5, 1.5, 1], [1, 0, 1]]`, ids `[7, 3, 9]`,
    q `[.5, .2, .1]` give the mean loss 0.764671.
    """
    logits = corrected_in_batch_logits(scores, candidate_ids,
                                       candidate_log_q, temperature,
                                       remove_accidental_hits)
    logits = tf.cast(logits, tf.float32)
    labels = tf.range(tf.shape(logits)[0])
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
