"""GlobalPointer's loss: multilabel categorical cross-entropy over spans.

Token classification batches are windows of sub-tokens whose labelled
positions (each word's first sub-token, sample weight > 0) carry the word's
IOB2 label id. The span head (`tfllm.layers.global_pointer`) scores every
(start, end, type) cell; here the cells are read at the labelled positions
only, so the span matrix is over words: cell `(i, j)` is the span from word
`i` to word `j`, both inclusive. The gold spans come from the IOB2 labels
(`iob2_span_labels`, strict IOB2 as seqeval's strict mode), so the data
readers and the pipeline stay those of the softmax and CRF heads.

Valid cells: both words real (labelled) and `i <= j` (the lower triangle
would be spans that end before they start). Masks select: invalid cells get
`-NEG_SCORE` before the exponentials, never `score - 1e12` (which is NaN in
float16), and the loss runs in float32 whatever the model's dtype.

Per window `b` and type `t`, the loss is Su's multilabel categorical
cross-entropy (https://kexue.fm/archives/7359)

    log(1 + sum_{neg} e^{s}) + log(1 + sum_{pos} e^{-s}),

computed as `softplus(logsumexp(.))`, which stays exact when the logits
saturate (5.6e-13 for gold cells at +30 and others at -30, where
`log(1 + x)` in float32 gives 0). Window `b` costs the sum over types; as
in `tfllm.training.crf_loss`, that cost is spread evenly over the window's
labelled tokens, so sample weights and `reduction="sum"` under
`tfllm.training.train` give the span loss per labelled token of the update.

Limit: a span is scored within one window. In a sentence longer than one
window (`TokenClassificationPreprocessor` overlap), an entity that crosses
the boundary between the words two windows own is cut at the window's last
labelled word during training, and cannot be decoded whole.
"""

import keras
import tensorflow as tf

from tfllm.export.entities import label_tables
from tfllm.training.crf_loss import SequenceLoss

# Score given to masked cells before the exponentials: e^-1e4 is 0 in
# float32, and 1e4 is far inside float16's range (65504), unlike 1e12.
NEG_SCORE = 1e4


def span_mask(token_mask):
    """Valid (start, end) cells: both positions real and start <= end.

    Args:
        token_mask: bool or 0/1 `[batch_size, length]`.

    Returns:
        bool `[batch_size, length, length]` (start, end).
    """
    token_mask = tf.cast(token_mask, tf.bool)
    length = tf.shape(token_mask)[1]
    upper = tf.linalg.band_part(tf.ones([length, length], tf.bool), 0, -1)
    return (token_mask[:, :, None] & token_mask[:, None, :]) & upper[None]


def multilabel_categorical_crossentropy(y_true, y_pred, mask):
    """Su's multilabel categorical cross-entropy per (sentence, type).

    `log(1 + sum_neg e^s) + log(1 + sum_pos e^-s)` over the valid cells
    (kexue.fm/archives/7359); positives should score > 0, negatives < 0.

    Args:
        y_true: 0/1 or bool `[batch_size, length, length, num_types]`
            gold cells (start, end inclusive, type).
        y_pred: float `[batch_size, length, length, num_types]` scores
            (any float dtype; computed in float32).
        mask: bool `[batch_size, length, length]` valid cells
            (`span_mask`).

    Returns:
        float32 `[batch_size, num_types]`.
    """
    scores = tf.cast(y_pred, tf.float32)
    positive = tf.cast(y_true, tf.bool)
    valid = tf.broadcast_to(tf.cast(mask, tf.bool)[..., None],
                            tf.shape(positive))
    floor = tf.fill(tf.shape(scores), -NEG_SCORE)
    negatives = tf.where(valid & ~positive, scores, floor)
    positives = tf.where(valid & positive, -scores, floor)
    batch = tf.shape(scores)[0]
    types = tf.shape(scores)[3]

    def term(values):  # log(1 + sum e^v) over the cells, per type
        flat = tf.reshape(tf.transpose(values, [0, 3, 1, 2]),
                          [batch, types, -1])
        return tf.nn.softplus(tf.reduce_logsumexp(flat, axis=-1))

    return term(negatives) + term(positives)


def iob2_span_labels(tag_ids, mask, id2label):
    """Gold span cells of IOB2 label sequences (strict IOB2).

    An entity is a `B-X` followed by any number of `I-X` (strict IOB2,
    seqeval's `mode="strict"`); an `I-X` that continues nothing starts no
    entity. Only masked-in positions count, in order: the words.

    Args:
        tag_ids: int `[batch_size, words]` label ids into `id2label`.
        mask: bool `[batch_size, words]`, True on real words (a prefix).
        id2label: list of str, IOB2 labels.

    Returns:
        float32 `[batch_size, words, words, num_types]`: 1 at (first word,
        last word, type) of each entity, types in sorted name order
        (`tfllm.export.entities.label_tables`).
    """
    prefixes, types, names = label_tables(id2label)
    tag_ids = tf.cast(tag_ids, tf.int32)
    mask = tf.cast(mask, tf.bool)
    prefix = tf.where(mask, tf.gather(prefixes, tag_ids), 0)  # 0 O 1 B 2 I
    kind = tf.where(mask, tf.gather(types, tag_ids), -1)
    before = tf.pad(prefix[:, :-1], [[0, 0], [1, 0]])
    kind_before = tf.pad(kind[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    continues = (prefix == 2) & (before != 0) & (kind_before == kind)
    segment = tf.cumsum(tf.cast(~continues, tf.int32), axis=1)  # [B, W]
    words = tf.shape(tag_ids)[1]
    position = tf.range(words)
    same = segment[:, :, None] == segment[:, None, :]  # [B, W, W]
    last = tf.reduce_max(tf.where(same, position[None, None, :], -1),
                         axis=2)  # last word of each word's segment
    is_end = tf.equal(position[None, None, :], last[:, :, None])
    begins = (prefix == 1)[:, :, None] & is_end  # [B, start, end]
    one_hot = tf.one_hot(tf.maximum(kind, 0), max(len(names), 1))
    return tf.cast(begins, tf.float32)[..., None] * one_hot[:, :, None, :]


def word_span_scores(span_logits, positions):
    """Span scores at word positions: `[B, W, W, C]` from `[B, T, T, C]`.

    Args:
        span_logits: float `[batch_size, length, length, num_types]`.
        positions: int `[batch_size, words]` sub-token position of each
            word (padding: any valid position).

    Returns:
        `[batch_size, words, words, num_types]`, the dtype of the logits.
    """
    rows = tf.gather(span_logits, positions, axis=1, batch_dims=1)
    return tf.gather(rows, positions, axis=2, batch_dims=1)


@keras.saving.register_keras_serializable(package="tfllm")
class GlobalPointerLoss(SequenceLoss):
    """Span loss of a GlobalPointer head, per window spread over its words.

    Reads the IOB2 label ids of the windows' labelled sub-tokens, derives
    the gold spans over those words (`iob2_span_labels`), gathers the
    model's span scores at the same words and takes
    `multilabel_categorical_crossentropy` over the valid cells, summed
    over types. Window `b`'s loss `L_b` is spread over its `n_b` labelled
    tokens (`L_b / n_b` each), so with `tfllm.training.train`'s weights and
    `reduction="sum"` the result is `sum_b L_b / N` for the `N` labelled
    tokens of the update.

    Args:
        id2label: list of str. The model's IOB2 labels.
        reduction: str. As `keras.losses.Loss`. Defaults to `"sum"`.
        name: str. Defaults to `"global_pointer_loss"`.

    Call arguments:
        y_true: int `[batch_size, length]` label ids; positions with sample
            weight 0 or a negative id are not words.
        y_pred: float `[batch_size, length, length, num_types]` span scores
            (the model output).
        sample_weight: float `[batch_size, length]` or None.

    Returns:
        float32 scalar (or `[batch_size, length]` shares with
        `reduction=None`).

    Examples:
    ```python
    model = TokenClassifier(backbone, labels, head="global_pointer")
    model.compile(optimizer="adam", loss=GlobalPointerLoss(labels))
    ```
    """

    def __init__(self, id2label, reduction="sum",
                 name="global_pointer_loss", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.id2label = list(id2label)

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, tf.int32)
        labelled = y_true >= 0  # [B, T]
        # Labelled positions first, in order (a stable sort), then the rest.
        order = tf.argsort(tf.cast(~labelled, tf.int32), axis=1,
                           stable=True)
        count = tf.reduce_sum(tf.cast(labelled, tf.int32), axis=1)
        words = tf.sequence_mask(count, tf.shape(y_true)[1])  # [B, T]
        tags = tf.gather(tf.maximum(y_true, 0), order, batch_dims=1)
        gold = iob2_span_labels(tags, words, self.id2label)
        scores = word_span_scores(y_pred, order)
        loss = multilabel_categorical_crossentropy(
            gold, scores, span_mask(words))  # [B, C]
        share = tf.reduce_sum(loss, axis=1) / tf.maximum(
            tf.cast(count, tf.float32), 1.0)
        return tf.where(labelled, share[:, None], 0.0)  # [B, T]

    def get_config(self):
        config = super().get_config()
        config["id2label"] = self.id2label
        return config
