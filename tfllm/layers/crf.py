"""A linear-chain conditional random field (CRF) output layer.

Lafferty, McCallum & Pereira (2001), "Conditional Random Fields:
Probabilistic Models for Segmenting and Labeling Sequence Data". Given the
emission scores `x_t` of a tagger (its logits, one `[num_labels]` vector
per position), a label path `y_1 .. y_n` scores

    s(y) = start[y_1] + sum_t x_t[y_t] + sum_{t>1} A[y_{t-1}, y_t]
           + end[y_n]

and has probability `exp(s(y)) / Z`, `Z` summing `exp(s)` over every path.
`log Z` comes from the forward algorithm (Rabiner 1989, Sec. III-A) in log
space, the best path from the Viterbi algorithm (Viterbi 1967); each is one
graph loop over time (`tf.foldl`, `tf.while_loop`) in float32, so both run
inside a `tf.function` and a SavedModel, and Viterbi converts to TFLite
builtin ops. This is the output layer of BERT-CRF taggers such as the
CLUENER 2020 baselines (Xu et al. 2020).

Masks: a position with mask 0 is not part of the sequence, wherever it is
(unlabelled sub-tokens sit between labelled ones). The masked-in positions
are first moved to the front in order (`_compress`), so the loops see one
sequence of `length` positions followed by padding; decoded tags go back
to their positions, and masked positions get tag 0.

Constraints: `allowed_transitions` lists the moves of a tagging scheme
(IOB2: no `I-X` at the start, after `O` or after another type). The layer
adds `FORBIDDEN` to the scores of the other moves: a fixed mask, not a
weight, so training cannot undo it and Viterbi never takes such a move
while an allowed path exists.
"""

import keras
import numpy as np
import tensorflow as tf

# Added to the score of a forbidden move: far below any path of allowed
# moves, yet finite, so `log Z` and its gradients stay finite in float32.
FORBIDDEN = -1e4

SCHEMES = ("IOB2", "BIOES")
# Per scheme: the prefixes that continue an entity, and those after which
# the entity is still open.
_CONTINUE = {"IOB2": ("I",), "BIOES": ("I", "E")}
_OPEN = {"IOB2": ("B", "I"), "BIOES": ("B", "I")}


def tagging_scheme(id2label):
    """The tagging scheme of a label list, for `allowed_transitions`.

    Args:
        id2label: list of str. Label names.

    Returns:
        `"IOB2"` when every label is `O`, `B-X` or `I-X`; `"BIOES"` when
        they are `O`, `B-X`, `I-X`, `E-X`, `S-X` with some `E-` or `S-`;
        None otherwise (e.g. part-of-speech tags).
    """
    prefixes = set()
    for label in id2label:
        if label == "O":
            continue
        prefix, sep, kind = label.partition("-")
        if sep != "-" or not kind or prefix not in ("B", "I", "E", "S"):
            return None
        prefixes.add(prefix)
    return "IOB2" if prefixes <= {"B", "I"} else "BIOES"


def _split(label, scheme):
    if label == "O":
        return "O", None
    prefix, sep, kind = label.partition("-")
    letters = ("B", "I") if scheme == "IOB2" else ("B", "I", "E", "S")
    if sep != "-" or not kind or prefix not in letters:
        raise ValueError(f"label {label!r} is not {scheme}")
    return prefix, kind


def allowed_transitions(id2label, scheme="IOB2"):
    """The moves between labels that a tagging scheme allows.

    IOB2: every path may start with `O` or `B-X` and end anywhere; `I-X`
    may follow only `B-X` or `I-X` (same type X). BIOES: a path starts with
    `O`, `B-X` or `S-X` and ends with `O`, `E-X` or `S-X`; after `B-X` or
    `I-X` only `I-X` or `E-X` (same X) may follow; after `O`, `E-X` or
    `S-X` only `O`, `B-Y` or `S-Y`.

    Args:
        id2label: list of str. Label names in id order.
        scheme: str. `"IOB2"` (default) or `"BIOES"`.

    Returns:
        bool numpy array `[num_labels + 2, num_labels + 2]`: entry `[i, j]`
        says whether label `j` may follow label `i`. Row `num_labels` is
        the start (entry `[num_labels, j]`: a path may begin with `j`) and
        column `num_labels + 1` the end (entry `[i, num_labels + 1]`: a
        path may end with `i`); the start column and end row are False.

    Raises:
        ValueError: unknown scheme, or a label that is not of the scheme.

    Examples:
    ```python
    allowed = allowed_transitions(["O", "B-PER", "I-PER"])
    allowed[0, 2]  # False: I-PER cannot follow O
    ```
    """
    scheme = str(scheme).upper()
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}: {scheme!r}")
    parts = [_split(label, scheme) for label in id2label]
    continuing, open_ = _CONTINUE[scheme], _OPEN[scheme]
    num_labels = len(parts)
    start, end = num_labels, num_labels + 1
    allowed = np.zeros((num_labels + 2, num_labels + 2), bool)
    for j, (next_prefix, _) in enumerate(parts):
        allowed[start, j] = next_prefix not in continuing
    for i, (prefix, kind) in enumerate(parts):
        allowed[i, end] = scheme == "IOB2" or prefix not in open_
        for j, (next_prefix, next_kind) in enumerate(parts):
            if next_prefix in continuing:
                allowed[i, j] = prefix in open_ and kind == next_kind
            else:
                allowed[i, j] = scheme == "IOB2" or prefix not in open_
    return allowed


def _compress(mask):
    """Gather order moving masked-in positions to the front, and counts.

    Args:
        mask: bool `[batch_size, sequence_length]`.

    Returns:
        `(order, lengths)`: int32 `[batch_size, sequence_length]` positions
        (masked-in ones first, each group in its original order) and int32
        `[batch_size]` counts of masked-in positions.
    """
    order = tf.argsort(
        tf.cast(tf.logical_not(mask), tf.int32), axis=1, stable=True)
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    return order, lengths


def _prepare(potentials, mask):
    """float32 potentials compressed by `mask`, at least one position long.

    Returns:
        `(potentials, mask, order, lengths)`; `potentials` is
        `[batch_size, max(sequence_length, 1), num_labels]`.
    """
    potentials = tf.cast(potentials, tf.float32)
    if mask is None:
        mask = tf.ones(tf.shape(potentials)[:2], tf.bool)
    mask = tf.cast(mask, tf.bool)
    order, lengths = _compress(mask)
    potentials = tf.gather(potentials, order, batch_dims=1)
    # An empty time axis (a batch of empty sentences) gets one padding step.
    missing = tf.maximum(1 - tf.shape(potentials)[1], 0)
    potentials = tf.pad(potentials, [[0, 0], [0, missing], [0, 0]])
    return potentials, mask, order, lengths


def _sequence_score(potentials, tags, lengths, transitions, start, end):
    """`s(y)` of each compressed path; positions from `lengths` on unused."""
    num_labels = tf.shape(transitions)[0]
    live = tf.sequence_mask(lengths, tf.shape(tags)[1], dtype=tf.float32)
    unary = tf.gather(potentials, tags, batch_dims=2)  # [B, T]
    moves = tags[:, :-1] * num_labels + tags[:, 1:]  # [B, T-1]
    binary = tf.gather(tf.reshape(transitions, [-1]), moves)
    last = tf.gather(tags, tf.maximum(lengths - 1, 0), batch_dims=1)
    return (tf.reduce_sum(unary * live, axis=1)
            + tf.reduce_sum(binary * live[:, 1:], axis=1)
            + tf.gather(start, tags[:, 0]) + tf.gather(end, last))


def _log_norm(potentials, lengths, transitions, start, end):
    """`log Z` of each compressed sequence: the forward algorithm."""
    time_major = tf.transpose(potentials, [1, 0, 2])  # [T, B, L]

    def step(alpha, t):
        # alpha [B, L]: log-sum-exp of the scores of paths ending in each
        # label at t - 1; padding steps (t >= length) keep it.
        scores = tf.reduce_logsumexp(
            alpha[:, :, None] + transitions, axis=1) + time_major[t]
        return tf.where((t < lengths)[:, None], scores, alpha)

    alpha = tf.foldl(step, tf.range(1, tf.shape(time_major)[0]),
                     initializer=start + time_major[0])
    return tf.reduce_logsumexp(alpha + end, axis=1)


def crf_log_likelihood(potentials, tags, mask, transitions,
                       start_transitions, end_transitions):
    """Log-likelihood `log p(tags | potentials)` of each sequence.

    Args:
        potentials: float `[batch_size, sequence_length, num_labels]`.
            Emission scores (a tagger's logits); computed in float32.
        tags: int `[batch_size, sequence_length]`. Gold label ids, read
            where `mask` is 1.
        mask: bool or 0/1 `[batch_size, sequence_length]`, or None (every
            position). Positions with 0 are left out of the sequence,
            wherever they are.
        transitions: float `[num_labels, num_labels]`. Score of label `j`
            right after label `i` at `[i, j]`.
        start_transitions, end_transitions: float `[num_labels]`. Score of
            beginning and of ending a sequence with each label.

    Returns:
        float32 `[batch_size]`, at most 0; 0 for a sequence without
        masked-in positions.
    """
    potentials, mask, order, lengths = _prepare(potentials, mask)
    tags = tf.where(mask, tf.cast(tags, tf.int32), 0)
    tags = tf.gather(tags, order, batch_dims=1)
    tags = tf.pad(tags, [[0, 0], [0, tf.shape(potentials)[1]
                                  - tf.shape(tags)[1]]])
    transitions, start, end = (
        tf.cast(t, tf.float32)
        for t in (transitions, start_transitions, end_transitions))
    score = _sequence_score(potentials, tags, lengths, transitions, start,
                            end)
    log_norm = _log_norm(potentials, lengths, transitions, start, end)
    return tf.where(lengths > 0, score - log_norm, 0.0)


def viterbi_decode(potentials, mask, transitions, start_transitions,
                   end_transitions):
    """The highest-scoring label path of each sequence (Viterbi 1967).

    One `tf.while_loop` over time that keeps, for every label, the best
    path ending in it (its score and its labels so far: the "survivor
    paths" form of Viterbi, which needs no backward pass and no tensor
    lists). Loop variables keep their shapes, so the graph runs in a
    `tf.function`, a SavedModel and TFLite's builtin ops (no
    `SELECT_TF_OPS`; a model exported with `keras.export.ExportArchive`,
    as `tfllm.export.tflite` does). Time and memory
    grow with `sequence_length ** 2 * num_labels` per sequence; for
    sentences of words that is small next to the encoder.

    Args:
        potentials: float `[batch_size, sequence_length, num_labels]`.
        mask: bool or 0/1 `[batch_size, sequence_length]`, or None.
        transitions, start_transitions, end_transitions: as in
            `crf_log_likelihood`.

    Returns:
        `(tags, scores)`: int32 `[batch_size, sequence_length]` label ids
        (0 at masked positions) and float32 `[batch_size]` path scores `s(y)`
        (0 for a sequence without masked-in positions).
    """
    sequence_length = tf.shape(potentials)[1]
    potentials, mask, order, lengths = _prepare(potentials, mask)
    transitions, start, end = (
        tf.cast(t, tf.float32)
        for t in (transitions, start_transitions, end_transitions))
    time_major = tf.transpose(potentials, [1, 0, 2])  # [T, B, L]
    steps = tf.shape(time_major)[0]
    labels = tf.range(tf.shape(transitions)[0])[:, None]  # [L, 1]

    def step(t, delta, paths):
        # delta [B, L]: score of the best path ending in each label at t - 1;
        # paths [B, L, T]: that path's labels (positions < t).
        scores = delta[:, :, None] + transitions  # [B, L_previous, L]
        previous = tf.argmax(scores, axis=1, output_type=tf.int32)  # [B, L]
        here = tf.one_hot(t, steps, dtype=tf.int32)  # [T]
        extended = (tf.gather(paths, previous, batch_dims=1) * (1 - here)
                    + labels * here)
        best = tf.reduce_max(scores, axis=1) + time_major[t]
        live = t < lengths  # padding steps keep both
        return (t + 1, tf.where(live[:, None], best, delta),
                tf.where(live[:, None, None], extended, paths))

    first = start + time_major[0]  # [B, L]
    paths = tf.zeros(tf.shape(first), tf.int32)[:, :, None] + (
        labels * tf.one_hot(0, steps, dtype=tf.int32))  # [B, L, T]
    _, delta, paths = tf.while_loop(
        lambda t, delta, paths: t < steps, step, (1, first, paths))
    final = delta + end
    last = tf.argmax(final, axis=1, output_type=tf.int32)  # [B]
    path = tf.gather(paths, last, batch_dims=1)  # [B, T]
    inverse = tf.argsort(order, axis=1, stable=True)
    tags = tf.gather(path[:, :sequence_length], inverse, batch_dims=1)
    tags = tf.where(mask, tags, 0)
    scores = tf.where(lengths > 0, tf.reduce_max(final, axis=1), 0.0)
    return tags, scores


@keras.saving.register_keras_serializable(package="tfllm")
class CRF(keras.layers.Layer):
    """A linear-chain CRF over per-position emission scores.

    Holds the learned `transitions` `[num_labels, num_labels]`,
    `start_transitions` and `end_transitions` `[num_labels]` (all zero at
    first, so a new CRF decodes like the argmax of the emissions, within
    the allowed moves). With `allowed`, forbidden moves get `FORBIDDEN`
    added, as a constant. Calling the layer decodes (Viterbi); training
    uses `log_likelihood` (see `tfllm.training.crf_loss.CRFLoss`).
    Computes in float32 whatever the dtype policy.

    Args:
        num_labels: int. Number of labels.
        allowed: None (every move allowed) or a bool array-like
            `[num_labels + 2, num_labels + 2]` from `allowed_transitions`.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        potentials: float `[batch_size, sequence_length, num_labels]`.
        mask: bool or 0/1 `[batch_size, sequence_length]`, or None.

    Returns:
        int32 `[batch_size, sequence_length]` Viterbi label ids, 0 where
        `mask` is 0.

    Raises:
        ValueError: `allowed` has the wrong shape.

    Examples:
    ```python
    labels = ["O", "B-PER", "I-PER"]
    crf = CRF(3, allowed=allowed_transitions(labels))
    tags = crf(tf.random.normal([2, 5, 3]))  # never O -> I-PER
    ```

    References:
        Lafferty, McCallum, Pereira (2001), "Conditional Random Fields:
        Probabilistic Models for Segmenting and Labeling Sequence Data".
        Viterbi (1967), "Error bounds for convolutional codes and an
        asymptotically optimum decoding algorithm".
    """

    def __init__(self, num_labels, allowed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_labels = int(num_labels)
        self.allowed = None
        if allowed is not None:
            allowed = np.asarray(allowed, bool)
            size = self.num_labels + 2
            if allowed.shape != (size, size):
                raise ValueError(
                    f"allowed must be [{size}, {size}] (labels, start and "
                    f"end), got {list(allowed.shape)}")
            self.allowed = allowed
        self.build()

    def build(self, input_shape=None):
        shape = (self.num_labels,)
        self.transitions = self.add_weight(
            shape * 2, initializer="zeros", name="transitions")
        self.start_transitions = self.add_weight(
            shape, initializer="zeros", name="start_transitions")
        self.end_transitions = self.add_weight(
            shape, initializer="zeros", name="end_transitions")

    def constrained_transitions(self):
        """float32 transition, start and end scores with the mask added.

        Returns:
            `(transitions, start, end)`: `[num_labels, num_labels]`,
            `[num_labels]`, `[num_labels]`.
        """
        scores = [tf.cast(tf.convert_to_tensor(v), tf.float32) for v in (
            self.transitions, self.start_transitions, self.end_transitions)]
        if self.allowed is None:
            return tuple(scores)
        n = self.num_labels
        penalty = np.where(self.allowed, 0.0, FORBIDDEN).astype(np.float32)
        return (scores[0] + penalty[:n, :n], scores[1] + penalty[n, :n],
                scores[2] + penalty[:n, n + 1])

    def log_likelihood(self, potentials, tags, mask=None):
        """`crf_log_likelihood` with this layer's (constrained) scores.

        Returns:
            float32 `[batch_size]`.
        """
        return crf_log_likelihood(potentials, tags, mask,
                                  *self.constrained_transitions())

    def decode(self, potentials, mask=None):
        """`viterbi_decode` with this layer's scores: `(tags, scores)`."""
        return viterbi_decode(potentials, mask,
                              *self.constrained_transitions())

    def call(self, potentials, mask=None):
        return self.decode(potentials, mask)[0]

    def compute_output_spec(self, potentials, mask=None):
        return keras.KerasTensor(potentials.shape[:-1], dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_labels": self.num_labels,
            "allowed": None if self.allowed is None
            else self.allowed.tolist(),
        })
        return config
