import numpy as np
import pytest
from scipy.special import log_softmax

from tfllm.prompting.lm_scorer import CausalLMScorer
from tfllm.prompting.lm_scorer import token_lists

from tiny_lm import tiny_bpe_tokens


def _hand_score(scorer, prompt, continuation):
    """Sum of log p(token_j | tokens_<j) from the full-sequence logits."""
    [prompt_ids, full] = token_lists(scorer.tokenizer,
                                     [prompt, prompt + continuation])
    start = next((i for i, (a, b) in enumerate(zip(prompt_ids, full))
                  if a != b), min(len(prompt_ids), len(full)))
    ids = np.asarray([full], np.int32)
    logits = np.asarray(scorer.causal_lm(
        {"token_ids": ids, "padding_mask": np.ones_like(ids)}))[0]
    log_probs = log_softmax(logits.astype(np.float64), axis=-1)
    return sum(log_probs[j - 1, full[j]] for j in range(start, len(full))), \
        len(full) - start


PROMPTS = ["hello", "hello world hello\n\nworld", "world hello hello"]
CONTINUATIONS = [" world", " xyz", "\n\nhello world", "o"]


def test_scores_equal_the_full_sequence_log_softmax(tiny_scorer):
    scores, counts = tiny_scorer.score(PROMPTS, CONTINUATIONS)
    for i, prompt in enumerate(PROMPTS):
        for c, continuation in enumerate(CONTINUATIONS):
            expected, count = _hand_score(tiny_scorer, prompt, continuation)
            assert counts[i, c] == count
            assert scores[i, c] == pytest.approx(expected, abs=1e-4)
    # " world" is one token ("Ġworld"), " xyz" four (Ġ x y z): the
    # multi-token case is really exercised.
    assert counts[0].tolist()[:2] == [1, 4]
    assert len(set(np.round(scores.ravel(), 3))) == scores.size


def test_padding_in_a_batch_does_not_change_scores(tiny_scorer):
    batched, _ = tiny_scorer.score(PROMPTS, CONTINUATIONS)
    one_by_one = CausalLMScorer(tiny_scorer.causal_lm, tiny_scorer.tokenizer,
                                batch_size=1)
    single, _ = one_by_one.score(PROMPTS, CONTINUATIONS)
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_single_token_continuations_share_one_row(tiny_scorer):
    rows, targets = tiny_scorer.plan(["hello"], [" world", "o", " xyz"])
    # " world" and "o" are read off the prompt row; " xyz" needs its own.
    assert len(rows) == 2
    assert targets[0][0][0][0] == targets[0][1][0][0]


def test_a_merge_across_the_boundary_is_scored_on_the_real_tokens(
        tiny_scorer):
    tokens = tiny_bpe_tokens()
    [ids] = token_lists(tiny_scorer.tokenizer, ["hello wor"])
    assert [tokens[i] for i in ids] == ["hello", "Ġwor"]
    scores, counts = tiny_scorer.score(["hello wor"], ["ld"])
    # "hello wor" + "ld" is "hello" "Ġworld": the continuation is the
    # whole "Ġworld" token after "hello".
    expected, _ = _hand_score(tiny_scorer, "hello", " world")
    assert counts[0, 0] == 1
    assert scores[0, 0] == pytest.approx(expected, abs=1e-4)


def test_a_prompt_without_tokens_is_refused(tiny_scorer):
    with pytest.raises(ValueError, match="nothing to condition on"):
        tiny_scorer.score([""], [" world"])


def test_a_cached_shared_prefix_gives_the_same_scores(tiny_scorer):
    shared = "hello world\n\nworld hello\n\nhello hello world\n\n"
    prompts = [shared + p for p in PROMPTS]
    cached = CausalLMScorer(tiny_scorer.causal_lm, tiny_scorer.tokenizer,
                            batch_size=2, min_shared_prefix=4)
    rows, targets = cached.plan(prompts, CONTINUATIONS)
    wanted = {r: [p for per in targets for t in per for rr, p, _ in t
                  if rr == r] for r in range(len(rows))}
    assert cached._shared_prefix(rows, wanted) >= 8  # the path is taken
    plain = CausalLMScorer(tiny_scorer.causal_lm, tiny_scorer.tokenizer,
                           batch_size=2, min_shared_prefix=None)
    np.testing.assert_allclose(cached.score(prompts, CONTINUATIONS)[0],
                               plain.score(prompts, CONTINUATIONS)[0],
                               atol=1e-4)
    expected, _ = _hand_score(tiny_scorer, prompts[1], CONTINUATIONS[1])
    assert cached.score(prompts, CONTINUATIONS)[0][1, 1] == pytest.approx(
        expected, abs=1e-4)


def test_models_saved_by_tfllm_load_and_score_the_same(tiny_scorer,
                                                       tmp_path):
    import keras_hub

    from tiny_lm import MERGES
    from tfllm.models.causal_lm import CausalLM
    from tfllm.models.causal_lm import new_gpt2_backbone
    from tfllm.models.sft_causal_lm import SFTCausalLM
    from tfllm.preprocessing.prompt_response_preprocessor import (
        PromptResponsePreprocessor,
    )
    from tfllm.prompting.lm_scorer import load_causal_lm
    from tfllm.training.pretraining import save_pretrained

    # finetune_clm's model.keras (an SFTCausalLM with its preprocessor).
    sft = SFTCausalLM(tiny_scorer.causal_lm.backbone,
                      PromptResponsePreprocessor(tiny_scorer.tokenizer, 32))
    sft.save(tmp_path / "model.keras")
    expected, _ = tiny_scorer.score(PROMPTS, CONTINUATIONS)
    loaded = CausalLMScorer(*load_causal_lm(str(tmp_path)))
    np.testing.assert_allclose(loaded.score(PROMPTS, CONTINUATIONS)[0],
                               expected, atol=1e-4)
    # pretrain_clm's KerasHub preset folder (a GPT-2 decoder).
    tokens = tiny_bpe_tokens()
    tokenizer = keras_hub.tokenizers.GPT2Tokenizer(
        vocabulary={t: i for i, t in enumerate(tokens)}, merges=MERGES)
    gpt2 = CausalLM(new_gpt2_backbone(len(tokens), 2, 2, 16,
                                      max_sequence_length=40))
    folder = save_pretrained(gpt2, tokenizer, tmp_path / "pretrained")
    before = CausalLMScorer(gpt2, tokenizer).score(PROMPTS, CONTINUATIONS)
    after = CausalLMScorer(*load_causal_lm(str(folder))).score(
        PROMPTS, CONTINUATIONS)
    np.testing.assert_allclose(after[0], before[0], atol=1e-4)
    with pytest.raises(ValueError, match="tokens; the model reads 40"):
        CausalLMScorer(gpt2, tokenizer).score(["hello " * 40], [" world"])
