"""R-Drop: consistency between two dropout passes of the same batch.

Liang, Wu, Li, Wang, Meng, Qin, Chen, Zhang, Liu (2021), "R-Drop:
Regularized Dropout for Neural Networks", Eq. 1-3: the batch runs through
the model twice, with two independent dropout masks, giving predictive
distributions `P1` and `P2`; the loss is the mean of the two task losses
plus `alpha` times the symmetric KL divergence
`(KL(P1 || P2) + KL(P2 || P1)) / 2`, averaged over the labelled positions
(tokens or texts). A step costs one more forward pass and its backward
pass (about 2x the forward compute).
"""

import tensorflow as tf


def symmetric_kl(logits_a, logits_b, multi_label=False):
    """`(KL(P_a || P_b) + KL(P_b || P_a)) / 2` per position.

    Args:
        logits_a: float tensor `[..., num_labels]` (token logits
            `[batch_size, sequence_length, num_labels]`, a CRF head's
            emission scores, or text logits `[batch_size, num_labels]`).
        logits_b: float tensor of the same shape (the second pass).
        multi_label: bool. False (default): one softmax distribution over
            the last axis. True: an independent Bernoulli (sigmoid) per
            label, the KL averaged over the labels, as Keras'
            `BinaryCrossentropy` averages its terms.

    Returns:
        float32 tensor `[...]` (the shape without the label axis), >= 0.
    """
    a = tf.cast(logits_a, tf.float32)
    b = tf.cast(logits_b, tf.float32)
    if multi_label:
        # log p and log(1 - p) of each Bernoulli, stably from logits.
        log_pa, log_qa = tf.math.log_sigmoid(a), tf.math.log_sigmoid(-a)
        log_pb, log_qb = tf.math.log_sigmoid(b), tf.math.log_sigmoid(-b)
        pa, pb = tf.exp(log_pa), tf.exp(log_pb)
        kl = ((pa - pb) * (log_pa - log_pb)
              + ((1 - pa) - (1 - pb)) * (log_qa - log_qb))
        return 0.5 * tf.reduce_mean(kl, axis=-1)
    log_pa = tf.nn.log_softmax(a, axis=-1)
    log_pb = tf.nn.log_softmax(b, axis=-1)
    # KL(a||b) + KL(b||a) = sum (p_a - p_b) (log p_a - log p_b)
    kl = (tf.exp(log_pa) - tf.exp(log_pb)) * (log_pa - log_pb)
    return 0.5 * tf.reduce_sum(kl, axis=-1)


def rdrop_kl(logits_a, logits_b, sample_weight=None, multi_label=False,
             reduction="sum"):
    """R-Drop's KL term of a batch, weighted by the sample weights.

    Args:
        logits_a: float tensor `[..., num_labels]`, first dropout pass.
        logits_b: float tensor of the same shape, second pass.
        sample_weight: float tensor `[...]` (0 on padding and unlabelled
            sub-tokens) or None (1 everywhere).
        multi_label: bool. Bernoulli KL per label (see `symmetric_kl`).
        reduction: str. `"sum"`: `sum(w * kl)`, for weights already
            normalised to sum to 1 over the update, as
            `tfllm.training.train` makes them (then a weighted mean over
            the update's labelled positions); anything else: the weighted
            mean `sum(w * kl) / sum(w)`, divided by the number of replicas
            as Keras' mean losses are.

    Returns:
        float32 scalar.
    """
    kl = symmetric_kl(logits_a, logits_b, multi_label)
    if sample_weight is None:
        weight = tf.ones_like(kl)
    else:
        weight = tf.cast(tf.reshape(sample_weight, tf.shape(kl)), tf.float32)
    total = tf.reduce_sum(weight * kl)
    if reduction == "sum":
        return total
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return total / tf.maximum(tf.reduce_sum(weight), 1e-12) / replicas
