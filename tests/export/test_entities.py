import numpy as np
import tensorflow as tf
from seqeval.scheme import IOB2
from seqeval.scheme import Entities

from tfllm.export.entities import decode_entities
from tfllm.export.entities import label_tables
from tiny import NER_LABELS


def decode(tag_lists):
    ids = tf.ragged.constant([[NER_LABELS.index(t) for t in tags]
                              for tags in tag_lists], dtype=tf.int32)
    _, _, names = label_tables(NER_LABELS)
    out = decode_entities(ids, NER_LABELS)
    result = set()
    for row, (types, starts, ends) in enumerate(zip(
            out["type"].to_list(), out["start"].to_list(),
            out["end"].to_list())):
        result |= {(row, s, e, names[t]) for t, s, e in zip(types, starts, ends)}
    return result


def seqeval_strict(tag_lists):
    entities = Entities(tag_lists, IOB2, suffix=False)
    return {(e.sent_id, e.start, e.end, e.tag)
            for sentence in entities.entities for e in sentence}


def test_br01_word_labels_give_three_entities():
    tags = [["B-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "O"]]
    assert decode(tags) == {(0, 0, 1, "ORG"), (0, 2, 4, "PER"),
                            (0, 5, 6, "LOC")}


def test_matches_seqeval_strict_on_random_tags():
    rng = np.random.default_rng(0)
    tag_lists = [list(rng.choice(NER_LABELS, rng.integers(0, 12)))
                 for _ in range(300)]
    assert decode(tag_lists) == seqeval_strict(tag_lists)
    assert decode([[], []]) == set()
