"""Tiny random BERT backbones, vocabularies and data files for tests.

The vocabulary is the one of outside cases BR-01 and BR-04
(`../shared/cases/OUTSIDE_CASES.md`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402

VOCAB = (
    "[PAD] [UNK] [CLS] [SEP] [MASK] zor ##bex hires anna ko ##wal ##ski in "
    "lyon . yesterday the board of met several investors from and porto "
    "again visited"
).split()
NER_LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]

SENTENCE_A = (
    "Yesterday the board of Zorbex met several investors from Lyon and "
    "Porto again ."
).split()
TAGS_A = ["O", "O", "O", "O", "B-ORG", "O", "O", "O", "O", "B-LOC", "O",
          "B-LOC", "O", "O"]
SENTENCE_B = "Anna visited Lyon .".split()
TAGS_B = ["B-PER", "O", "B-LOC", "O"]


def tiny_tokenizer():
    return keras_hub.tokenizers.BertTokenizer(vocabulary=VOCAB, lowercase=True)


def tiny_backbone(seed=0, hidden_dim=32, max_sequence_length=64):
    keras.utils.set_random_seed(seed)
    return keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB),
        num_layers=2,
        num_heads=2,
        hidden_dim=hidden_dim,
        intermediate_dim=2 * hidden_dim,
        max_sequence_length=max_sequence_length,
        dropout=0.0,
    )


def tiny_token_classifier(sequence_length=16, labels=NER_LABELS, seed=0,
                          casing_features=True, dropout=0.0):
    from tfllm.models.token_classifier import TokenClassifier
    from tfllm.preprocessing.token_classification_preprocessor import (
        TokenClassificationPreprocessor,
    )

    preprocessor = TokenClassificationPreprocessor(
        tiny_tokenizer(), sequence_length, casing_features=casing_features
    )
    return TokenClassifier(
        tiny_backbone(seed), labels, preprocessor=preprocessor,
        dropout=dropout, casing_features=casing_features,
    )


def write_conll(path, sentences, docstart=True):
    """Writes (words, tags) pairs as a 4-column CoNLL file."""
    lines = ["-DOCSTART- -X- O O", ""] if docstart else []
    for words, tags in sentences:
        lines += [f"{w} NNP I-NP {t}" for w, t in zip(words, tags)] + [""]
    path.write_text("\n".join(lines) + "\n")
    return path


# Text classification: the vocabulary and labels of outside case BR-07.
CLS_VOCAB = (
    "[PAD] [UNK] [CLS] [SEP] [MASK] great movie awful plot the a ."
).split()
CLS_LABELS = ["negative", "positive"]
CLS_TEXTS = ["great movie", "the great plot", "a great movie .", "great",
             "awful plot", "the awful movie", "awful .", "a plot awful"]
CLS_GOLD = ["positive"] * 4 + ["negative"] * 4


def tiny_cls_tokenizer():
    return keras_hub.tokenizers.BertTokenizer(
        vocabulary=CLS_VOCAB, lowercase=True)


def tiny_cls_backbone(seed=0, hidden_dim=16, max_sequence_length=32):
    keras.utils.set_random_seed(seed)
    return keras_hub.models.BertBackbone(
        vocabulary_size=len(CLS_VOCAB),
        num_layers=2,
        num_heads=2,
        hidden_dim=hidden_dim,
        intermediate_dim=2 * hidden_dim,
        max_sequence_length=max_sequence_length,
        dropout=0.0,
    )


def tiny_text_classifier(sequence_length=8, labels=CLS_LABELS, seed=0,
                         dropout=0.0, **kwargs):
    """A tiny random `TextClassifier`; kwargs go to its constructor."""
    from tfllm.models.text_classifier import TextClassifier
    from tfllm.preprocessing.text_classification_preprocessor import (
        TextClassificationPreprocessor,
    )

    preprocessor = TextClassificationPreprocessor(
        tiny_cls_tokenizer(), sequence_length)
    return TextClassifier(tiny_cls_backbone(seed), labels,
                          preprocessor=preprocessor, dropout=dropout,
                          **kwargs)


def write_csv(path, rows, header=("text", "label"), encoding="utf-8",
              bom=False):
    """Writes rows as an RFC 4180 CSV file with CRLF record ends."""
    import csv
    import io

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)  # lineterminator "\r\n"
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


# Chinese NER: a vocabulary with a few CJK characters (the others are
# unknown), the CLUENER-style labels, and a tiny classifier whose tags
# depend only on each word's casing class (deterministic spans).
CJK_VOCAB = (
    "[PAD] [UNK] [CLS] [SEP] [MASK] 我 在 北 京 的 公 司 工 作 google "
    "iphone 15 , ， 。"
).split()
CJK_LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def tiny_cjk_tokenizer():
    return keras_hub.tokenizers.BertTokenizer(
        vocabulary=CJK_VOCAB, lowercase=True)


def tiny_cjk_backbone(seed=0):
    keras.utils.set_random_seed(seed)
    return keras_hub.models.BertBackbone(
        vocabulary_size=len(CJK_VOCAB), num_layers=2, num_heads=2,
        hidden_dim=32, intermediate_dim=64, max_sequence_length=64,
        dropout=0.0)


def casing_rule_classifier(sequence_length=16):
    """A `cjk_chars` classifier that tags by casing class only.

    Latin words (lower, UPPER, Title, mixed) -> B-ORG; CJK characters ->
    I-ORG; numbers -> B-LOC; punctuation, symbols, emoji -> O. So
    "我在Google北京" has the entity ORG "Google北京" and "15" is LOC.
    """
    import numpy as np

    from tfllm.models.token_classifier import TokenClassifier
    from tfllm.preprocessing import casing
    from tfllm.preprocessing.token_classification_preprocessor import (
        TokenClassificationPreprocessor,
    )

    preprocessor = TokenClassificationPreprocessor(
        tiny_cjk_tokenizer(), sequence_length, word_splitter="cjk_chars")
    model = TokenClassifier(tiny_cjk_backbone(), CJK_LABELS,
                            preprocessor=preprocessor, dropout=0.0)
    rule = {casing.LOWER: "B-ORG", casing.UPPER: "B-ORG",
            casing.TITLE: "B-ORG", casing.MIXED: "B-ORG",
            casing.UNCASED_LETTER: "I-ORG", casing.NUMERIC: "B-LOC"}
    embedding = np.zeros((casing.NUM_CASING_CLASSES, model.casing_dim))
    embedding[:, :casing.NUM_CASING_CLASSES] = np.eye(
        casing.NUM_CASING_CLASSES)
    model.casing_embedding.set_weights([embedding])
    kernel = np.zeros((32 + model.casing_dim, len(CJK_LABELS)))
    for casing_class in range(casing.NUM_CASING_CLASSES):
        label = rule.get(casing_class, "O")
        kernel[32 + casing_class, CJK_LABELS.index(label)] = 10.0
    model.classifier_head.set_weights([kernel, np.zeros(len(CJK_LABELS))])
    return model
