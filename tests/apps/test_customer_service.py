import numpy as np
import pytest

from tiny_faq import ANSWERS
from tiny_faq import faq_entries
from tiny_faq import tiny_encoder
from tfllm.apps.customer_service import HANDOVER_MESSAGE
from tfllm.apps.customer_service import FaqAssistant
from tfllm.apps.customer_service import build_index
from tfllm.retrieval.embedding import embed_texts
from tfllm.retrieval.index import StaleIndexError


class FakeClassifier:
    """Always sure of 'complaint' (labels in its own order)."""

    id2label = ["complaint", "other", "praise"]
    path = None

    def __call__(self, texts):
        return np.tile([0.9, 0.1, 0.0], (len(texts), 1))


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder()


def test_answers_with_the_nearest_entry(encoder):
    entries = faq_entries()
    assistant = FaqAssistant(encoder, build_index(encoder, entries, "tiny"),
                             k=3)
    queries = ["great plot", "awful movie"]
    results = assistant.answer(queries)
    faq = embed_texts(encoder, [e.question for e in entries])
    scores = embed_texts(encoder, queries) @ faq.T
    for result, row in zip(results, scores):
        best = int(np.argmax(row))
        assert result["top"][0]["id"] == best
        assert result["top"][0]["score"] == pytest.approx(row[best], 1e-5)
        assert result["intent"] == entries[best].intent
        assert result["answer"] == ANSWERS[entries[best].intent]
        assert not result["handover"] and len(result["top"]) == 3


def test_hands_over_under_the_threshold(encoder):
    index = build_index(encoder, faq_entries(), "tiny")
    result = FaqAssistant(encoder, index, threshold=1.01).answer("great")[0]
    assert result["handover"] and result["answer"] == HANDOVER_MESSAGE


def test_classifier_mix(encoder):
    index = build_index(encoder, faq_entries(), "tiny")
    assistant = FaqAssistant(encoder, index, classifier=FakeClassifier(),
                             classifier_weight=1.0)
    out = assistant.score(["great movie"])
    # Intents are sorted (complaint, praise); "other" is not in the FAQ.
    np.testing.assert_allclose(out["probabilities"][0], [0.9, 0.0])
    assert assistant.answer("great movie")[0]["intent"] == "complaint"
    half = FaqAssistant(encoder, index, classifier=FakeClassifier(),
                        classifier_weight=0.5).score(["great movie"])
    np.testing.assert_allclose(
        half["probabilities"], 0.5 * np.array([[0.9, 0.0]])
        + 0.5 * half["retrieval"])


def test_save_load_and_stale_encoder(tmp_path, encoder):
    index = build_index(encoder, faq_entries(), "tiny")
    assistant = FaqAssistant(encoder, index, threshold=0.3, k=2,
                             aggregation="vote")
    assistant.save(tmp_path / "faq")
    loaded = FaqAssistant.load(tmp_path / "faq", encoder=encoder)
    assert (loaded.threshold, loaded.k, loaded.aggregation) == (0.3, 2,
                                                                "vote")
    assert loaded.answer("awful") == assistant.answer("awful")
    from tiny import tiny_backbone
    from tiny import tiny_tokenizer
    from tfllm.preprocessing.text_classification_preprocessor import (
        TextClassificationPreprocessor)
    from tfllm.retrieval.contrastive import SentenceEncoder

    other = SentenceEncoder(tiny_backbone(),
                            TextClassificationPreprocessor(tiny_tokenizer(),
                                                           8))
    with pytest.raises(StaleIndexError, match="vocabulary"):
        FaqAssistant.load(tmp_path / "faq", encoder=other)


def test_probability_confidence(encoder):
    index = build_index(encoder, faq_entries(), "tiny")
    assistant = FaqAssistant(encoder, index, k=4, confidence="probability")
    out = assistant.score(["great movie"])
    np.testing.assert_allclose(out["confidence"],
                               out["retrieval"].max(axis=1))
    with pytest.raises(ValueError, match="confidence"):
        FaqAssistant(encoder, index, confidence="margin")


def test_generated_replies_reword_answered_queries_only(encoder, tmp_path):
    from tiny_lm import tiny_llama_backbone
    from tiny_lm import write_tiny_gguf
    from tfllm.apps.customer_service import REPLY_SYSTEM_PROMPT
    from tfllm.apps.customer_service import add_generated_replies
    from tfllm.apps.customer_service import reply_prompt
    from tfllm.generation import GenerationConfig
    from tfllm.generation.text import generate_text
    from tfllm.generation.text import load_generator

    path = write_tiny_gguf(tmp_path / "lm.gguf", tiny_llama_backbone(seed=3))
    causal_lm, preprocessor = load_generator(
        str(path), system_prompt=REPLY_SYSTEM_PROMPT, sequence_length=256)
    index = build_index(encoder, faq_entries(), "tiny")
    results = FaqAssistant(encoder, index).answer(["great", "awful"])
    results[1]["handover"] = True  # as if under the threshold
    config = GenerationConfig(max_new_tokens=4)
    add_generated_replies(results, causal_lm, preprocessor, config, "tiny")
    (want,), _ = generate_text(causal_lm, preprocessor, [reply_prompt(
        "great", results[0]["answer"])], config)
    assert results[0]["generated_reply"] == want.strip()
    assert results[0]["generated_by"] == "tiny"
    assert results[0]["answer"] in ANSWERS.values()  # approved text kept
    assert "generated_reply" not in results[1]
    assert "Approved answer: Thank" in reply_prompt("q", "Thank you!")
    # The system prompt reaches the LM through the chat template.
    assert REPLY_SYSTEM_PROMPT in preprocessor.prompt_text("q")
