"""tfllm.runs.tfidf_baseline: character n-gram TF-IDF + logistic regression
on the splits the classifier trains on (issue 29)."""

import json

import pytest

from tfllm.runs.tfidf_baseline import tfidf_baseline

TRAIN = (["好好", "好", "好好好", "很好", "差差", "差", "差差差", "很差"],
         ["pos"] * 4 + ["neg"] * 4)


def test_scores_are_the_hand_computed_ones():
    """"好好好" labelled neg is predicted pos: accuracy 3/4; F1 pos =
    2 * (2/3 * 1) / (2/3 + 1) = 0.8, F1 neg = 2 * (1 * 1/2) / 1.5 = 2/3,
    macro-F1 = 0.7333."""
    test = (["好好", "好", "差差", "好好好"], ["pos", "pos", "neg", "neg"])
    result = tfidf_baseline(TRAIN, TRAIN, test, c_values=(10.0, 100.0))
    assert result["test"]["accuracy"] == 0.75
    assert result["test"]["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert result["validation"]["10.0"]["accuracy"] == 1.0
    assert result["c"] == 10.0  # ties keep the first C
    assert result["labels"] == ["neg", "pos"]
    assert result["sizes"] == {"train": 8, "validation": 8, "test": 4}
    # Characters 1-3-grams of 好/差/很 strings: 好 差 很 好好 差差 很好 很差
    # 好好好 差差差.
    assert result["features"] == 9
    with pytest.raises(ValueError, match=r"test labels not in train: \['x'"):
        tfidf_baseline(TRAIN, TRAIN, (["好"], ["x"]))


def test_more_than_two_classes_are_fitted_one_vs_rest():
    train = (TRAIN[0] + ["一般", "一般般"], TRAIN[1] + ["mid", "mid"])
    test = (["好好", "差差", "一般"], ["pos", "neg", "mid"])
    result = tfidf_baseline(train, train, test, c_values=(10.0,))
    assert result["labels"] == ["mid", "neg", "pos"]
    assert result["test"] == {"accuracy": 1.0, "macro_f1": 1.0}


def test_script_reads_the_hash_split_and_writes_json(tmp_path, capsys):
    from tfllm.cli import tfidf_baseline as cli
    from tfllm.data.classification_datasets import (
        load_classification_dataset)

    folder = tmp_path / "chnsenticorp_htl"
    folder.mkdir()
    rows = [f"{i % 2},{'好' if i % 2 else '差'}评{i}" for i in range(60)]
    (folder / "ChnSentiCorp_htl_all.csv").write_text(
        "label,review\n" + "\n".join(rows + ["1,"]) + "\n", encoding="utf-8")
    output = tmp_path / "baseline.json"
    results = cli.main(["--datasets", "chnsenticorp", "--data-dir",
                        str(tmp_path), "--c-values", "10",
                        "--output", str(output)])
    splits = load_classification_dataset("chnsenticorp", folder)
    record = json.loads(output.read_text())
    result = record["results"]["chnsenticorp"]
    assert result == json.loads(json.dumps(results["chnsenticorp"]))
    assert result["sizes"] == {k: len(v) for k, v in splits.items()}
    assert result["split"] == "hash split 80/10/10, seed 42"
    assert result["cleaning"]["empty_rows"]["count"] == 1
    assert result["test"]["accuracy"] == 1.0  # 好/差 decide the label
    assert record["c_values"] == [10.0]
    assert "chnsenticorp: C 10; test accuracy 1.0000" in capsys.readouterr(
        ).out
