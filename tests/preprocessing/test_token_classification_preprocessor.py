"""Sub-token alignment and windows: outside cases BR-01 and BR-04."""

import numpy as np
import pytest
import tensorflow as tf

from tfllm.data.tagging import inside_label_ids
from tfllm.evaluation.ner_metrics import entity_report
from tfllm.preprocessing.token_classification_preprocessor import (
    TokenClassificationPreprocessor,
)
from tiny import NER_LABELS
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B

BR01_WORDS = ["Zorbex", "hires", "Anna", "Kowalski", "in", "Lyon", "."]
BR01_TAGS = ["B-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "O"]
IGN = None


def encode(preprocessor, sentences):
    return preprocessor(tf.ragged.constant(sentences, dtype=tf.string))


def label_ids(tags):
    return [NER_LABELS.index(t) for t in tags]


def padded(ragged, length, value=0):
    row = list(ragged.to_list()[0])
    return row + [value] * (length - len(row))


def test_br01_token_ids_word_ids_and_first_piece_labels(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 16)
    encoding = encode(preprocessor, [BR01_WORDS])
    assert padded(encoding["token_ids"], 16) == [
        2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 3, 0, 0, 0, 0]
    word_ids = [None if w < 0 else w
                for w in padded(encoding["window_word_index"], 16, -1)]
    assert word_ids == [None, 0, 0, 1, 2, 3, 3, 3, 4, 5, 6] + [None] * 5
    labels, weights = preprocessor.align_labels(
        encoding, tf.ragged.constant([label_ids(BR01_TAGS)]))
    shown = [NER_LABELS[l] if w else IGN
             for l, w in zip(padded(labels, 16), padded(weights, 16))]
    assert shown == [IGN, "B-ORG", IGN, "O", "B-PER", "I-PER", IGN, IGN, "O",
                     "B-LOC", "O"] + [IGN] * 5
    assert sum(padded(weights, 16)) == 7


def test_br01_all_pieces_labelling_never_repeats_b(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 16)
    encoding = encode(preprocessor, [BR01_WORDS])
    labels, weights = preprocessor.align_labels(
        encoding, tf.ragged.constant([label_ids(BR01_TAGS)]),
        inside_ids=inside_label_ids(NER_LABELS))
    shown = [NER_LABELS[l] if w else IGN
             for l, w in zip(padded(labels, 16), padded(weights, 16))]
    assert shown == [IGN, "B-ORG", "I-ORG", "O", "B-PER", "I-PER", "I-PER",
                     "I-PER", "O", "B-LOC", "O"] + [IGN] * 5
    assert sum(padded(weights, 16)) == 10


def oracle_word_tags(preprocessor, sentences, tags):
    """Word tags read back from a model that outputs the gold tag per piece."""
    encoding = encode(preprocessor, sentences)
    labels, _ = preprocessor.align_labels(
        encoding, tf.ragged.constant([label_ids(t) for t in tags]),
        inside_ids=inside_label_ids(NER_LABELS))
    logits = tf.one_hot(labels.to_tensor(), len(NER_LABELS))
    index = tf.stack([encoding["word_window"].flat_values,
                      encoding["word_position"].flat_values], axis=1)
    ids = tf.argmax(tf.gather_nd(logits, index), -1)
    ids = encoding["word_window"].with_flat_values(ids).to_list()
    return [[NER_LABELS[i] for i in row] for row in ids]


@pytest.mark.parametrize("max_length", range(4, 21))
def test_br04_long_sentences_keep_every_word(tokenizer, max_length):
    preprocessor = TokenClassificationPreprocessor(tokenizer, max_length)
    predicted = oracle_word_tags(
        preprocessor, [SENTENCE_A, SENTENCE_B], [TAGS_A, TAGS_B])
    assert [len(p) for p in predicted] == [14, 4]
    assert predicted == [TAGS_A, TAGS_B]
    report = entity_report([TAGS_A, TAGS_B], predicted)
    assert report["micro avg"]["support"] == 5
    assert report["micro avg"]["f1-score"] == 1.0


def test_br04_plain_truncation_would_keep_five_words(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 8)
    encoding = encode(preprocessor, [SENTENCE_A])
    windows = encoding["token_ids"].to_list()
    assert windows[0] == [2, 15, 16, 17, 18, 5, 6, 3]
    assert len(windows) > 1
    # Every sub-token is owned by exactly one window.
    owned = np.concatenate([np.array(w) for w in
                            encoding["window_owned"].to_list()])
    assert owned.sum() == 15


def test_every_word_owned_once_on_random_sentences(tokenizer):
    rng = np.random.default_rng(0)
    words = ["Zorbex", "Kowalski", "in", "Lyon", ".", "again", "qqq"]
    sentences = [list(rng.choice(words, rng.integers(0, 40)))
                 for _ in range(20)]
    for max_length, overlap in [(5, 0), (9, 3), (12, None), (64, 8)]:
        preprocessor = TokenClassificationPreprocessor(
            tokenizer, max_length, window_overlap=overlap)
        encoding = encode(preprocessor, sentences)
        lengths = [len(w) for w in encoding["token_ids"].to_list()]
        assert max(lengths) <= max_length
        word_index = encoding["window_word_index"].to_list()
        first = encoding["window_first_piece"].to_list()
        owned = encoding["window_owned"].to_list()
        seen = [w for wi, f, o in zip(word_index, first, owned)
                for w, ff, oo in zip(wi, f, o) if ff and oo]
        assert sorted(seen) == list(
            range(sum(len(s) for s in sentences)))
        # The word's read-out position is the position of its owned piece.
        ww = encoding["word_window"].flat_values.numpy()
        wp = encoding["word_position"].flat_values.numpy()
        for word, (window, position) in enumerate(zip(ww, wp)):
            assert word_index[window][position] == word
            assert owned[window][position] and first[window][position]


def test_word_without_pieces_gets_unk_and_empty_sentence(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 16)
    encoding = encode(preprocessor, [["Anna", "\u200b"], []])
    assert encoding["token_ids"].to_list() == [[2, 8, 1, 3], [2, 3]]
    assert encoding["word_position"].to_list() == [[1, 2], []]


def test_casing_ids(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 16)
    encoding = encode(preprocessor, [["Zorbex", "LYON", "in", "."]])
    # [CLS] title title upper lower other [SEP]
    assert encoding["casing_ids"].to_list() == [[0, 5, 5, 4, 3, 1, 0]]


def test_arguments_are_checked(tokenizer):
    with pytest.raises(ValueError, match="sequence_length must be >= 3"):
        TokenClassificationPreprocessor(tokenizer, 2)
    with pytest.raises(ValueError, match="window_overlap must be in"):
        TokenClassificationPreprocessor(tokenizer, 8, window_overlap=6)


def test_config_round_trip(tokenizer):
    preprocessor = TokenClassificationPreprocessor(
        tokenizer, 12, window_overlap=2, casing_features=False)
    clone = TokenClassificationPreprocessor.from_config(
        preprocessor.get_config())
    assert (clone.sequence_length, clone.window_overlap,
            clone.casing_features) == (12, 2, False)
    # The vocabulary is an asset: it travels in .keras files (see
    # tests/models/test_token_classifier.py), not in the config.
    assert clone.get_config() == preprocessor.get_config()


def test_br01_word_labels_come_from_first_pieces(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 16)
    encoding = encode(preprocessor, [BR01_WORDS])
    # Token-level predictions with noise on the continuation pieces.
    token_tags = ["O", "B-ORG", "I-ORG", "O", "B-PER", "I-PER", "B-PER", "O",
                  "O", "B-LOC", "O", "O", "O", "O", "O", "O"]
    logits = tf.one_hot([label_ids(token_tags)], len(NER_LABELS))
    index = tf.stack([encoding["word_window"].flat_values,
                      encoding["word_position"].flat_values], axis=1)
    words = tf.argmax(tf.gather_nd(logits, index), -1).numpy()
    assert [NER_LABELS[i] for i in words] == [
        "B-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "O"]


def test_traced_graph_stays_small(tokenizer):
    """The serving graph and every data pipeline trace this layer. Built
    from element-wise ops between ragged tensors it held 3,576 ops (each
    traces a dynamic-shape broadcast, seconds per trace); on flat values
    it holds 688."""
    preprocessor = TokenClassificationPreprocessor(tokenizer, 8)
    spec = tf.RaggedTensorSpec([None, None], tf.string, 1, tf.int64)
    graph = tf.function(preprocessor.call).get_concrete_function(spec).graph
    assert len(graph.get_operations()) < 1000


def test_sentencepiece_words_do_not_start_with_a_bare_metaspace(tmp_path):
    """XLM-R style tokenizers give `▁` + `国` for a lone `国`; the word's
    first sub-token (which carries its label) must be `国` itself."""
    import keras_hub
    from tiny_e5 import PIECES
    from tiny_e5 import write_tiny_e5

    from tfllm.checkpoints.e5 import write_hf_checkpoint

    write_tiny_e5(tmp_path / "tiny.bin")
    folder = write_hf_checkpoint(tmp_path / "tiny.bin", tmp_path / "hf")
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(str(folder))
    preprocessor = TokenClassificationPreprocessor(
        tokenizer, 16, casing_features=False, word_splitter="cjk_chars")
    encoding = preprocessor(tf.ragged.constant([["国", "人", "中", "ab"]]))
    index = {p: i for i, p in enumerate(PIECES)}
    assert encoding["token_ids"].to_list() == [[
        0, index["国"], index["人"], index["▁中"], index["▁ab"], 2]]
    assert encoding["word_position"].to_list() == [[1, 2, 3, 4]]
