"""Unknown-token rate of a vocabulary on Chinese words."""

from tfllm.evaluation.vocabulary_coverage import unknown_token_rate
from tfllm.preprocessing.token_classification_preprocessor import (
    TokenClassificationPreprocessor,
)
from tiny import tiny_cjk_tokenizer


def test_unknown_token_rate():
    preprocessor = TokenClassificationPreprocessor(
        tiny_cjk_tokenizer(), 16, word_splitter="cjk_chars")
    sentences = [["我", "东", "东", "Google"], ["😀", "京", "iphone15"]]
    rate = unknown_token_rate(preprocessor, sentences)
    # iphone15 -> iphone, ##15 is not in the vocabulary: one [UNK] piece.
    assert rate["words"] == 7 and rate["unknown_words"] == 4
    assert rate["subtokens"] == 7 and rate["unknown_subtokens"] == 4
    assert rate["subtoken_unknown_rate"] == 4 / 7
    assert (rate["cjk_characters"], rate["unknown_cjk_characters"]) == (4, 2)
    assert rate["most_frequent_unknown"][0] == ["东", 2]
    assert rate["distinct_unknown_words"] == 3


def test_chinese_advice_names_the_e5_command_only_when_needed():
    from tfllm.evaluation.vocabulary_coverage import chinese_vocabulary_advice

    base = {"cjk_characters": 100, "cjk_unknown_rate": 0.6}
    advice = chinese_vocabulary_advice(base)
    assert "60.0%" in advice and "--backbone multilingual-e5-small" in advice
    assert chinese_vocabulary_advice(dict(base, cjk_unknown_rate=0.01)) is None
    assert chinese_vocabulary_advice(
        {"cjk_characters": 0, "cjk_unknown_rate": 0.0}) is None
