"""Entity spans from IOB2 tag ids, in TensorFlow ops (for serving graphs).

Strict IOB2 (the rule of seqeval's `mode="strict", scheme=IOB2`): an entity
is a `B-X` followed by any number of `I-X` of the same type. An `I-X` that
does not continue an entity of type X is not part of any entity. Evaluation
uses seqeval itself; this module gives the serving graph the same spans
without Python.
"""

import tensorflow as tf

from tfllm.data.tagging import split_tag

_OUTSIDE, _BEGIN, _INSIDE = 0, 1, 2


def label_tables(id2label):
    """Prefix code (0 O, 1 B, 2 I) and type index per label, and type names.

    Args:
        id2label: list of str, IOB2 labels.

    Returns:
        `(prefixes, types, type_names)`: two int lists as long as `id2label`
        (type -1 for `O`) and the sorted list of entity type names.
    """
    parts = [split_tag(label) for label in id2label]
    type_names = sorted({t for _, t in parts if t is not None})
    code = {"O": _OUTSIDE, "B": _BEGIN, "I": _INSIDE}
    prefixes = [code[p] for p, _ in parts]
    types = [type_names.index(t) if t is not None else -1 for _, t in parts]
    return prefixes, types, type_names


def decode_entities(tag_ids, id2label):
    """Finds strict-IOB2 entities in each sentence.

    Args:
        tag_ids: int `tf.RaggedTensor` `[batch_size, (num_words)]`.
        id2label: list of str.

    Returns:
        dict of int32 `tf.RaggedTensor` `[batch_size, (num_entities)]`:
        `type` (index into the sorted type names), `start` (first word) and
        `end` (last word + 1), in order of appearance.
    """
    prefixes, types, _ = label_tables(id2label)
    flat = tf.cast(tag_ids.flat_values, tf.int32)
    prefix = tf.gather(tf.constant(prefixes, tf.int32), flat)
    entity_type = tf.gather(tf.constant(types, tf.int32), flat)
    num_words = tf.shape(flat)[0]
    sentence = tf.cast(tag_ids.value_rowids(), tf.int32)
    previous_prefix = tf.concat([[_OUTSIDE], prefix[:-1]], 0)
    previous_type = tf.concat([[-1], entity_type[:-1]], 0)
    previous_sentence = tf.concat([[-1], sentence[:-1]], 0)
    # A word continues the chain before it: I-X after B-X or I-X.
    continues = (
        tf.equal(prefix, _INSIDE)
        & tf.not_equal(previous_prefix, _OUTSIDE)
        & tf.equal(previous_type, entity_type)
        & tf.equal(previous_sentence, sentence)
    )
    starts_run = tf.cast(~continues, tf.int32)
    run = tf.cumsum(starts_run) - 1  # chain id of each word
    num_runs = tf.reduce_sum(starts_run)
    positions = tf.range(num_words)
    run_start = tf.math.unsorted_segment_min(positions, run, num_runs)
    run_end = tf.math.unsorted_segment_max(positions, run, num_runs) + 1
    is_entity = tf.equal(tf.gather(prefix, run_start), _BEGIN)
    start = tf.boolean_mask(run_start, is_entity)
    end = tf.boolean_mask(run_end, is_entity)
    entity_sentence = tf.gather(sentence, start)
    word_offset = tf.gather(
        tf.cast(tag_ids.row_starts(), tf.int32), entity_sentence
    )
    nrows = tag_ids.nrows(out_type=tf.int32)

    def per_sentence(values):
        return tf.RaggedTensor.from_value_rowids(
            values, entity_sentence, nrows=nrows
        )

    return {
        "type": per_sentence(tf.gather(entity_type, start)),
        "start": per_sentence(start - word_offset),
        "end": per_sentence(end - word_offset),
    }
