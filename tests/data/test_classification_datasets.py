"""Known datasets read from a folder laid out like ../shared/data."""

import pytest

from tfllm.data.classification_datasets import load_classification_dataset
from tfllm.data.locate import DatasetNotFoundError
from tiny import write_csv


def test_sst2_labels_are_named(tmp_path):
    for name in ("train.tsv", "valid.tsv"):
        (tmp_path / name).write_text(
            "sentence\tlabel\ngreat movie \t1\nawful plot \t0\n")
    data = load_classification_dataset("sst2", tmp_path)
    assert set(data) == {"train", "validation"}
    assert [(e.text, e.label) for e in data["validation"]] == [
        ("great movie", "positive"), ("awful plot", "negative")]


def test_banking77_and_phrasebank(tmp_path):
    write_csv(tmp_path / "train.csv", [("Where is\nmy card?", "card_arrival")],
              header=("text", "category"))
    data = load_classification_dataset("banking77", tmp_path)
    assert set(data) == {"train"}  # validation is carved later
    assert data["train"][0].label == "card_arrival"
    (tmp_path / "Sentences_50Agree.txt").write_bytes(
        "Profit rose .@positive\r\n".encode("latin-1"))
    data = load_classification_dataset("fpb-50agree", tmp_path)
    assert data["train"][0].label == "positive"


def test_unknown_or_missing_dataset(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'imdb'"):
        load_classification_dataset("imdb")
    with pytest.raises(DatasetNotFoundError, match="train.tsv"):
        load_classification_dataset("sst2", tmp_path)
