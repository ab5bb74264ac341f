"""Reads the real CoNLL-2003 copy in ../shared/data (skipped when absent)."""


import pytest

from tfllm.data.conll import load_conll2003
from tfllm.data.locate import find_dataset_dir
from tfllm.evaluation.ner_metrics import entity_report

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def conll2003():
    folder = find_dataset_dir("conll2003")
    if folder is None:
        pytest.skip("CoNLL-2003 not found (../shared/data or TFLLM_DATA_DIR)")
    return load_conll2003(folder)


def test_conll2003_counts(conll2003):
    train, valid = conll2003["train"], conll2003["validation"]
    # Published statistics (SOURCE.md, Tjong Kim Sang & De Meulder 2003).
    assert (len(train), len(valid)) == (14041, 3250)
    assert sum(len(s.words) for s in train) == 203621
    assert sum(len(s.words) for s in valid) == 51362
    report = entity_report([s.tags for s in valid], [s.tags for s in valid])
    assert report["micro avg"]["support"] == 5942
    assert {t: report[t]["support"] for t in ("LOC", "MISC", "ORG", "PER")} == {
        "LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}


def _dataset(name):
    from tfllm.data.classification_datasets import load_classification_dataset
    from tfllm.data.locate import DatasetNotFoundError

    try:
        return load_classification_dataset(name)
    except DatasetNotFoundError:
        pytest.skip(f"{name} not found (../shared/data or TFLLM_DATA_DIR)")


def test_banking77_counts_and_quirks():
    from tfllm.data.labels import build_class_list

    train = _dataset("banking77")["train"]
    labels = build_class_list(train)
    # SOURCE.md: 10,003 examples in 10,017 physical lines, 77 intents.
    assert (len(train), len(labels)) == (10003, 77)
    assert "reverted_card_payment?" in labels and (
        "Refund_not_showing_up" in labels)
    assert all(e.text == e.text.strip() and e.text for e in train)
    assert sum("\n" in e.text for e in train) > 0  # quoted newlines kept


@pytest.mark.parametrize("name, counts", [
    ("fpb-allagree", {"positive": 570, "neutral": 1391, "negative": 303}),
    ("fpb-50agree", {"positive": 1363, "neutral": 2879, "negative": 604}),
])
def test_phrasebank_counts(name, counts):
    import collections

    train = _dataset(name)["train"]
    assert dict(collections.Counter(e.label for e in train)) == counts
    assert any("+ñ" in e.text for e in _dataset("fpb-50agree")["train"])


def test_sst2_counts():
    import collections

    data = _dataset("sst2")
    assert {k: len(v) for k, v in data.items()} == {
        "train": 60614, "validation": 6735, "test": 872}
    assert collections.Counter(e.label for e in data["validation"]) == {
        "positive": 3741, "negative": 2994}
    assert not any(e.text.endswith(" ") for e in data["validation"])
