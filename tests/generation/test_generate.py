"""Decoding on the tiny GPT-2 of outside case BR-15."""

import numpy as np
import pytest

from tiny_lm import br15_causal_lm

from tfllm.generation import GenerationConfig
from tfllm.generation import generate
from tfllm.generation import pad_prompts

P1 = [5, 6, 7]
P2 = [8, 9, 10, 11, 12]
# BR-15, verified with KerasHub's GPT2CausalLM + greedy sampler (total
# length 10, no stop token).
EXPECTED_1 = [5, 6, 7, 16, 9, 3, 18, 18, 18, 27]
EXPECTED_2 = [8, 9, 10, 11, 12, 12, 18, 18, 18, 27]


@pytest.fixture(scope="module")
def lm():
    return br15_causal_lm()


def _full_logits(lm, sequences):
    """Next-token logits at every position, without any cache."""
    ids = np.array(sequences, np.int32)
    return np.asarray(
        lm({"token_ids": ids, "padding_mask": np.ones_like(ids)}))


def greedy(max_new_tokens, **kwargs):
    return GenerationConfig(max_new_tokens=max_new_tokens, **kwargs)


@pytest.mark.parametrize("use_cache", [True, False])
def test_br15_batched_rows_equal_single_prompts(lm, use_cache):
    batched = generate(lm, [P1, P2], greedy(7, use_cache=use_cache))
    alone_1 = generate(lm, [P1], greedy(7, use_cache=use_cache))[0]
    alone_2 = generate(lm, [P2], greedy(5, use_cache=use_cache))[0]
    assert P1 + batched[0] == P1 + alone_1 == EXPECTED_1
    assert P2 + batched[1][:5] == P2 + alone_2 == EXPECTED_2
    # Prompt order inside the batch does not matter either.
    swapped = generate(lm, [P2, P1], greedy(7, use_cache=use_cache))
    assert swapped == batched[::-1]


def test_br15_pad_id_equal_to_end_id_does_not_stop_generation(lm):
    # GPT-2 pads with its end id; here the end id (0) is also the value
    # a naive buffer would pad with. Neither prompt holds it, so every row
    # gets all its new tokens.
    out = generate(lm, [P1, P2], greedy(7), stop_token_ids=[0])
    assert P1 + out[0] == EXPECTED_1
    assert len(out[1]) == 7 and P2 + out[1][:5] == EXPECTED_2


def test_br15_right_padding_keeps_positions_naive_left_padding_does_not(lm):
    backbone = lm.backbone

    def hidden(ids, mask):
        return np.asarray(backbone({"token_ids": np.array([ids]),
                                    "padding_mask": np.array([mask])}))[0]

    right = hidden([1, 2, 3, 4, 5, 0, 0], [1, 1, 1, 1, 1, 0, 0])
    unpadded = hidden([1, 2, 3, 4, 5], [1, 1, 1, 1, 1])
    left = hidden([0, 0, 1, 2, 3, 4, 5], [0, 0, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(right[4], unpadded[4], atol=1e-5)
    # Left padding without position ids from the mask shifts positions:
    # BR-15 measured max |delta| = 2.76 on this model.
    assert np.abs(left[6] - right[4]).max() == pytest.approx(2.76, abs=0.01)


def test_pad_prompts_right_pads_in_place():
    ids, mask, lengths = pad_prompts([P1, P2], 2, fill_token_id=1)
    assert ids.tolist() == [[5, 6, 7, 1, 1, 1, 1], [8, 9, 10, 11, 12, 1, 1]]
    assert mask.astype(int).tolist() == [[1, 1, 1, 0, 0, 0, 0],
                                         [1, 1, 1, 1, 1, 0, 0]]
    assert lengths.tolist() == [3, 5]
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        pad_prompts([P1, []], 2)


def test_greedy_equals_argmax_of_the_full_forward_pass(lm):
    sequence = list(P2)
    for _ in range(6):
        sequence.append(int(np.argmax(_full_logits(lm, [sequence])[0, -1])))
    assert generate(lm, [P2], greedy(6))[0] == sequence[len(P2):]


def test_cache_and_no_cache_agree_for_every_strategy(lm):
    for config in (greedy(6), greedy(6, strategy="beam", num_beams=3),
                   greedy(6, strategy="sample", top_k=5, seed=3)):
        cached = generate(lm, [P1, P2], config)
        config.use_cache = False
        assert generate(lm, [P1, P2], config) == cached


def test_beam_width_one_equals_greedy(lm):
    beam = generate(lm, [P1, P2], greedy(7, strategy="beam", num_beams=1))
    assert beam == generate(lm, [P1, P2], greedy(7))


def test_beam_search_with_all_beams_finds_the_best_two_token_path(lm):
    # With as many beams as vocabulary entries, two steps are exhaustive.
    log_softmax = lambda x: x - np.log(np.exp(x - x.max(-1, keepdims=True))
                                       .sum(-1, keepdims=True)) - x.max(
                                           -1, keepdims=True)
    first = log_softmax(_full_logits(lm, [P1])[0, -1])
    candidates = [P1 + [t] for t in range(50)]
    second = log_softmax(_full_logits(lm, candidates)[:, -1])
    total = first[:, None] + second
    best = np.unravel_index(np.argmax(total), total.shape)
    out = generate(lm, [P1, P2], greedy(2, strategy="beam", num_beams=50))
    assert out[0] == [int(best[0]), int(best[1])]
    # Its rows are independent of the batch, as for greedy decoding.
    assert out[1] == generate(lm, [P2], greedy(
        2, strategy="beam", num_beams=50))[0]


def test_top_k_sampling_stays_inside_the_top_k(lm):
    config = greedy(8, strategy="sample", top_k=2, temperature=5.0, seed=7)
    for prompt, new in zip([P1, P2], generate(lm, [P1, P2], config)):
        sequence = prompt + new
        logits = _full_logits(lm, [sequence])[0]
        for step, token in enumerate(new):
            position = len(prompt) + step - 1
            top2 = np.argsort(logits[position])[-2:]
            assert token in top2


def test_fixed_seed_repeats_and_another_seed_differs(lm):
    config = greedy(10, strategy="sample", temperature=3.0, seed=1)
    first = generate(lm, [P1, P2], config)
    assert generate(lm, [P1, P2], config) == first
    config.seed = 2
    assert generate(lm, [P1, P2], config) != first


def test_stop_token_ends_only_its_row(lm):
    # Greedy P1 continues 16, 9, 3, ...: stopping at 9 keeps [16].
    out = generate(lm, [P1, P2], greedy(7), stop_token_ids=[9])
    assert out[0] == [16]
    assert P2 + out[1][:5] == EXPECTED_2


def test_config_is_checked():
    with pytest.raises(ValueError, match="strategy"):
        GenerationConfig(strategy="nucleus")
    with pytest.raises(ValueError, match="top_p"):
        GenerationConfig(top_p=0.0)
