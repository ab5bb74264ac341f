"""Tiny sentence encoders and FAQ files for the retrieval and FAQ tests."""

from tiny import CLS_TEXTS
from tiny import tiny_cls_backbone
from tiny import tiny_cls_tokenizer

FAQ_ROWS = [(text, "praise" if i < 4 else "complaint")
            for i, text in enumerate(CLS_TEXTS)]
ANSWERS = {"praise": "Thank you!", "complaint": "Sorry to hear that."}


def tiny_encoder(sequence_length=8, seed=0, **kwargs):
    from tfllm.preprocessing.text_classification_preprocessor import (
        TextClassificationPreprocessor)
    from tfllm.retrieval.contrastive import SentenceEncoder

    return SentenceEncoder(
        tiny_cls_backbone(seed),
        TextClassificationPreprocessor(tiny_cls_tokenizer(), sequence_length),
        **kwargs)


def faq_entries():
    from tfllm.retrieval.faq_files import FaqEntry

    return [FaqEntry(q, i, ANSWERS[i]) for q, i in FAQ_ROWS]
