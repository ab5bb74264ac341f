"""Reads the real CLUENER2020 (NER and topics) and Weibo NER copies (skipped
when absent)."""

import collections
import warnings

import pytest

from tfllm.data.char_spans import ConversionReport
from tfllm.data.locate import find_dataset_dir
from tfllm.data.ner_datasets import load_ner_dataset

pytestmark = pytest.mark.real_data


def _load(name, train_file):
    if find_dataset_dir(name, None, (train_file,)) is None:
        pytest.skip(f"{name} not found (../shared/data or TFLLM_DATA_DIR)")
    report = ConversionReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_ner_dataset(name, report=report), report


def _entities(sentences):
    return collections.Counter(
        t[2:] for s in sentences for t in s.tags if t.startswith("B-"))


def test_cluener2020_counts_and_offsets():
    data, report = _load("cluener2020", "train.json")
    train, dev = data["train"], data["validation"]
    assert (len(train), len(dev)) == (10748, 1343)
    # SOURCE.md: 23,972 / 3,072 spans; the nested pair of train line 1507
    # loses its two company spans to the enclosing book title.
    assert sum(_entities(train).values()) == 23972 - 2
    assert _entities(dev)["name"] == 465 and sum(_entities(dev).values()) == 3072
    assert [m.split(": ")[0].rsplit(":", 1)[1]
            for m in report.dropped_spans] == ["1507", "1507"]
    for s in train + dev:
        assert all(s.text[a:b] == w for w, (a, b) in zip(s.words, s.offsets))


def test_weibo_ner_counts():
    data, report = _load("weibo_ner", "weiboNER_2nd_conll.train")
    counts = {k: (len(v), sum(_entities(v).values())) for k, v in data.items()}
    assert counts == {"train": (1350, 1895), "validation": (270, 389),
                      "test": (270, 418)}
    assert _entities(data["test"])["PER.NAM"] == 113
    assert len(report.repaired_tags) == 14  # 10 in train, 4 in test


def test_cluener2020_topics_counts():
    from tfllm.data.classification_datasets import DATASETS
    from tfllm.data.classification_datasets import (
        load_classification_dataset,
    )

    if find_dataset_dir("cluener2020", None, ("train.json",)) is None:
        pytest.skip("cluener2020 not found (../shared/data or TFLLM_DATA_DIR)")
    data = load_classification_dataset("cluener2020-topics")
    train, dev = data["train"], data["validation"]
    assert (len(train), len(dev)) == (10748, 1343)
    assert DATASETS["cluener2020-topics"].multi_label
    # Sentences per type (SOURCE.md gives spans; these count sentences).
    per_type = collections.Counter(t for e in train for t in e.label)
    assert per_type == {
        "address": 2090, "book": 908, "company": 2215, "game": 1897,
        "government": 1461, "movie": 779, "name": 2847,
        "organization": 1894, "position": 2464, "scene": 946}
    # Every released sentence has an entity: no empty label set.
    sizes = collections.Counter(len(e.label) for e in dev)
    assert sizes == {1: 714, 2: 422, 3: 171, 4: 32, 5: 4}
    assert min(len(e.label) for e in train) == 1
    # The nested spans of train line 1507 count for both types.
    [nested] = [e for e in train if e.line == 1507]
    assert nested.label == ["book", "company"]
