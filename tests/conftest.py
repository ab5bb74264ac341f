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
