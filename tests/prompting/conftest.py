"""A tiny GGUF causal LM (random Llama, byte-level BPE) for prompting tests."""

import pytest

from tiny_lm import tiny_llama_backbone
from tiny_lm import write_tiny_gguf


@pytest.fixture(scope="session")
def tiny_gguf_path(tmp_path_factory):
    return write_tiny_gguf(tmp_path_factory.mktemp("prompting") / "lm.gguf",
                           tiny_llama_backbone(seed=3))


@pytest.fixture(scope="session")
def tiny_scorer(tiny_gguf_path):
    from tfllm.prompting.classifier import load_scorer

    return load_scorer(str(tiny_gguf_path), batch_size=16)
