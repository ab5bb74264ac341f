"""Reads the real CoNLL-2003 copy in ../shared/data (skipped when absent)."""

import pathlib

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
