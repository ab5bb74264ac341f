"""Model FLOPs per token, MFU and the matmul peak."""

import pytest

from tfllm.preprocessing.casing import NUM_CASING_CLASSES
from tfllm.training.flops import effective_seq_len
from tfllm.training.flops import matmul_peak
from tfllm.training.flops import model_flop_utilisation
from tfllm.training.flops import non_embedding_params
from tfllm.training.flops import training_flops_per_token
from tiny import NER_LABELS
from tiny import VOCAB
from tiny import tiny_token_classifier


def test_training_flops_per_token():
    # 6 N + 12 L H S = 6 * 1000 + 12 * 2 * 32 * 16
    assert training_flops_per_token(1000, 2, 32, 16) == 6000 + 12288


def test_minilm_attention_term_is_small():
    # tfllm's MiniLM-L6-H384 TokenClassifier on CoNLL-2003 labels has
    # 10,651,161 non-embedding parameters; at S = 27 the attention term,
    # 12 * 6 * 384 * 27 = 746,496 FLOPs per token, is about 1% of 6 N.
    flops = training_flops_per_token(10_651_161, 6, 384, 27)
    assert flops == 6 * 10_651_161 + 746_496
    assert 0.01 < 746_496 / flops < 0.013


def test_effective_seq_len_weights_by_tokens():
    # Sequences of 2 and 4 tokens: (4 + 16) / 6.
    assert effective_seq_len([2, 4]) == pytest.approx(20 / 6)
    assert effective_seq_len([8, 8, 8]) == 8.0
    assert effective_seq_len([]) == 0.0


def test_model_flop_utilisation():
    assert model_flop_utilisation(1e6, 2000.0, 4e9) == pytest.approx(0.5)


def test_non_embedding_params_leaves_out_tables_and_frozen_pooler():
    model = tiny_token_classifier()
    hidden, positions, segments, casing_dim = 32, 64, 2, 16
    tables = (len(VOCAB) + positions + segments) * hidden
    tables += NUM_CASING_CLASSES * casing_dim
    trainable = sum(int(v.numpy().size) for v in model.trainable_weights)
    assert non_embedding_params(model) == trainable - tables
    # The head, hidden + casing features -> labels, is counted.
    head = (hidden + casing_dim) * len(NER_LABELS) + len(NER_LABELS)
    assert non_embedding_params(model) > head
    # The pooler ([CLS] dense) is frozen and so not in the trainable set.
    pooler = hidden * hidden + hidden
    total = sum(int(v.numpy().size) for v in model.weights)
    assert total - trainable == pooler


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_matmul_peak_reports_positive_gflops(dtype):
    peak = matmul_peak(size=64, dtype=dtype, repeats=3)
    assert peak["best_gflops"] >= peak["median_gflops"] > 0
    assert peak["dtype"] == dtype and peak["size"] == 64
