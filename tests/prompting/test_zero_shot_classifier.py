import numpy as np
import pytest
from scipy.special import softmax

from tiny import tiny_backbone
from tiny import tiny_tokenizer

from tfllm.data.text_files import TextExample
from tfllm.prompting.calibration import CONTENT_FREE_INPUTS
from tfllm.prompting.classifier import ZeroShotClassifier
from tfllm.prompting.classifier import reduce_words
from tfllm.prompting.encoder_scorer import EncoderScorer
from tfllm.prompting.templates import PromptTemplate

TEMPLATE = PromptTemplate("hello {text}\n\nworld:",
                          {"w": ["world", "xyz"], "h": ["hello"]})
TEXTS = ["hello world", "world world hello", "x"]
WORDS = [" world", " xyz", " hello"]


def test_label_scores_follow_the_verbalizer(tiny_scorer):
    prompts = [TEMPLATE.render(t) for t in TEXTS]
    log_likelihood, counts = tiny_scorer.score(prompts, WORDS)
    for normalize, reduction in [(False, "max"), (True, "max"),
                                 (False, "logsumexp")]:
        classifier = ZeroShotClassifier(
            tiny_scorer, TEMPLATE, normalize_length=normalize,
            reduction=reduction)
        words = log_likelihood / counts if normalize else log_likelihood
        reduce = np.maximum if reduction == "max" else np.logaddexp
        expected = softmax(np.stack(
            [reduce(words[:, 0], words[:, 1]), words[:, 2]], 1), axis=1)
        labels, scores = classifier.predict(TEXTS)
        np.testing.assert_allclose(scores, expected, atol=1e-6)
        assert labels == [["w", "h"][i] for i in expected.argmax(1)]
    # " xyz" has four tokens and " hello" two (no "Ġhello" merge).
    assert counts[0].tolist() == [1, 4, 2]


def test_calibration_uses_the_content_free_prompts(tiny_scorer):
    demonstrations = [TextExample("x y", "h"), TextExample("world", "w")]
    classifier = ZeroShotClassifier(tiny_scorer, TEMPLATE, demonstrations,
                                    calibrate=True)
    assert classifier.prompt("z") == (
        "hello x y\n\nworld: hello\n\nhello world\n\nworld: world\n\n"
        "hello z\n\nworld:")
    raw = ZeroShotClassifier(tiny_scorer, TEMPLATE, demonstrations)
    p_cf = raw.probabilities(list(CONTENT_FREE_INPUTS)).mean(0)
    expected = raw.probabilities(TEXTS) / p_cf
    expected /= expected.sum(1, keepdims=True)
    _, scores = classifier.predict(TEXTS)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    np.testing.assert_allclose(classifier.p_cf, p_cf / p_cf.sum())


def test_chat_prompts_put_demonstrations_in_turns(tiny_scorer):
    classifier = ZeroShotClassifier(
        tiny_scorer, TEMPLATE, [TextExample("x", "h")],
        use_chat_template=True)
    assert classifier.prompt("z") == (
        "<|im_start|>user\nhello x\n\nworld:<|im_end|>\n"
        "<|im_start|>assistant\nhello<|im_end|>\n"
        "<|im_start|>user\nhello z\n\nworld:<|im_end|>\n"
        "<|im_start|>assistant\n")
    labels, scores = classifier.predict(["z"])
    assert scores.shape == (1, 2) and labels[0] in ("w", "h")


def test_encoder_labels_score_by_their_best_description():
    scorer = EncoderScorer(tiny_backbone(), tiny_tokenizer(), 32)
    template = PromptTemplate("the {text}", {"a": ["lyon", "porto"],
                                             "b": ["board"]})
    classifier = ZeroShotClassifier(scorer, template)
    texts = ["anna visited lyon .", "several investors"]
    cosine = scorer.score(texts, ["the lyon", "the porto", "the board"])
    labels, scores = classifier.predict(texts)
    np.testing.assert_allclose(
        scores, np.stack([cosine[:, :2].max(1), cosine[:, 2]], 1))
    assert classifier.score_kind == "cosine"
    with pytest.raises(ValueError, match="need a causal LM"):
        ZeroShotClassifier(scorer, template, calibrate=True)


def test_reduce_words_and_bad_inputs(tiny_scorer):
    np.testing.assert_allclose(
        reduce_words(np.log([[1.0, 3.0, 2.0]]), [[0, 1], [2]], "logsumexp"),
        np.log([[4.0, 2.0]]))
    with pytest.raises(ValueError, match="reduction"):
        reduce_words(np.zeros((1, 1)), [[0]], "mean")
    with pytest.raises(Exception, match="unknown label 'q'"):
        ZeroShotClassifier(tiny_scorer, TEMPLATE, [TextExample("x", "q")])
