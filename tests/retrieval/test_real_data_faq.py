"""Banking77 as an FAQ (../shared/data; skipped when absent)."""

import json

import pytest

from tfllm.cli.faq_assistant import DEFAULT_ANSWERS
from tfllm.cli.faq_assistant import FaqData
from tfllm.cli.faq_assistant import load_faq

pytestmark = pytest.mark.real_data


def test_banking77_faq_and_the_classifier_split():
    from tfllm.runs.classification import carve_validation
    from tfllm.runs.classification import ClassifierConfig
    from tfllm.data.classification_datasets import (
        load_classification_dataset)
    from tfllm.data.locate import DatasetNotFoundError

    try:
        data = load_classification_dataset("banking77")
    except DatasetNotFoundError:
        pytest.skip("banking77 not found (../shared/data or TFLLM_DATA_DIR)")
    entries, queries = load_faq(FaqData(dataset="banking77"))
    assert (len(entries), len(queries)) == (8998, 1005)
    # The queries are the validation split train_classifier carves.
    carve_validation(data, ClassifierConfig(), 42)
    assert queries == [(e.text, e.label) for e in data["validation"]]
    assert [e.question for e in entries] == [e.text for e in data["train"]]
    answers = json.loads(DEFAULT_ANSWERS["banking77"].read_text())
    assert len(answers) == 77 and all(
        e.answer == answers[e.intent] for e in entries)
