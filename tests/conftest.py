"""Shared pytest fixtures (helpers live in tests/tiny.py)."""

import pytest

from tiny import tiny_backbone
from tiny import tiny_tokenizer


@pytest.fixture
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture
def tiny_preset(tmp_path_factory):
    """A KerasHub preset folder with a tiny random BERT and its vocabulary."""
    folder = tmp_path_factory.mktemp("tiny_bert")
    tiny_backbone().save_to_preset(str(folder))
    tiny_tokenizer().save_to_preset(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_cls_preset(tmp_path_factory):
    """A KerasHub preset folder: tiny random BERT, the BR-07 vocabulary."""
    from tiny import tiny_cls_backbone
    from tiny import tiny_cls_tokenizer

    folder = tmp_path_factory.mktemp("tiny_cls_bert")
    tiny_cls_backbone().save_to_preset(str(folder))
    tiny_cls_tokenizer().save_to_preset(str(folder))
    return folder
