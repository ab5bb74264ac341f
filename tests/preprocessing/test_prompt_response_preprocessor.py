import numpy as np
import pytest

from tiny_lm import CHATML

from tfllm.data.errors import DataFormatError
from tfllm.data.prompt_response import PromptResponse
from tfllm.generation.chat_tokenizer import ChatTokenizer
from tfllm.preprocessing.prompt_response_preprocessor import (
    PromptResponsePreprocessor,
)


@pytest.fixture(scope="module")
def tokenizer():
    from tiny_lm import MERGES
    from tiny_lm import tiny_bpe_tokens

    tokens = tiny_bpe_tokens()
    return ChatTokenizer(
        vocabulary={t: i for i, t in enumerate(tokens)}, merges=MERGES,
        bos_token="<|im_start|>", eos_token="<|im_end|>",
        misc_special_tokens=["<|endoftext|>"], chat_template=CHATML)


def _ids(tokenizer, text):
    return np.asarray(tokenizer(text)).tolist()


def test_loss_weights_cover_the_response_and_end_token_only(tokenizer):
    preprocessor = PromptResponsePreprocessor(tokenizer, 64)
    encoded, truncated = preprocessor.encode(
        [PromptResponse("hello", "world")])
    prompt = _ids(tokenizer, "<|im_start|>user\nhello<|im_end|>\n"
                             "<|im_start|>assistant\n")
    response = _ids(tokenizer, "world") + [2]  # <|im_end|>
    sequence = prompt + response
    assert encoded.features["token_ids"].to_list() == [sequence[:-1]]
    assert encoded.labels.to_list() == [sequence[1:]]
    # Weight 1 exactly where the label is a response token.
    assert encoded.sample_weight.to_list() == [
        [0.0] * (len(prompt) - 1) + [1.0] * len(response)]
    assert truncated == 0


def test_plain_prompts_without_template(tokenizer):
    preprocessor = PromptResponsePreprocessor(
        tokenizer, 64, use_chat_template=False)
    encoded, _ = preprocessor.encode([PromptResponse("hello", " world")])
    hello, world = _ids(tokenizer, "hello"), _ids(tokenizer, " world")
    assert encoded.labels.to_list() == [(hello + world + [2])[1:]]
    assert encoded.sample_weight.to_list() == [
        [0.0] * (len(hello) - 1) + [1.0] * (len(world) + 1)]


def test_long_response_is_cut_and_counted_long_prompt_fails(tokenizer):
    preprocessor = PromptResponsePreprocessor(
        tokenizer, 3, use_chat_template=False)
    encoded, truncated = preprocessor.encode(
        [PromptResponse("hello", " world world world")])
    assert truncated == 1
    assert encoded.features["token_ids"].row_lengths().numpy().tolist() == [3]
    with pytest.raises(DataFormatError, match=r"a.jsonl:7: the prompt has 3"):
        preprocessor.encode([PromptResponse("hello hello",
                                            "x", path="a.jsonl", line=7)])


def test_system_prompt_and_missing_template(tokenizer):
    preprocessor = PromptResponsePreprocessor(
        tokenizer, 64, system_prompt="Be brief.")
    assert preprocessor.prompt_text("hello").startswith(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello")
    plain = ChatTokenizer(vocabulary=tokenizer.vocabulary,
                          merges=tokenizer.merges, eos_token="<|im_end|>")
    with pytest.raises(ValueError, match="no chat template"):
        PromptResponsePreprocessor(plain, 64, use_chat_template=True)
