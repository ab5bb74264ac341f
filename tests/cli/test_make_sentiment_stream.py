"""scripts/make_sentiment_stream.py on a tiny PhraseBank-format file, and
once on the real Financial PhraseBank (skipped when absent)."""

import json

import pytest

from tfllm.cli.make_sentiment_stream import main

ARGS = ["--windows", "80", "--window-seconds", "600", "--bursts", "3",
        "--warmup-windows", "10", "--gap-windows", "5",
        "--texts-per-window", "6"]


def _write_phrasebank(folder):
    labels = ["negative"] * 10 + ["neutral"] * 30 + ["positive"] * 10
    folder.mkdir()
    (folder / "Sentences_AllAgree.txt").write_bytes("".join(
        f"Sentence number {i} about sales .@{label}\r\n"
        for i, label in enumerate(labels)).encode("latin-1"))


def test_seed_reproducible_and_pool_held_out(tmp_path):
    _write_phrasebank(tmp_path / "fpb")
    common = ARGS + ["--data-dir", str(tmp_path / "fpb")]
    main(common + ["--seed", "4", "--output-dir", str(tmp_path / "a")])
    main(common + ["--seed", "4", "--output-dir", str(tmp_path / "b")])
    main(common + ["--seed", "5", "--output-dir", str(tmp_path / "c")])
    for name in ("stream.jsonl", "ground_truth.json", "train.jsonl"):
        assert ((tmp_path / "a" / name).read_bytes() ==
                (tmp_path / "b" / name).read_bytes())
    assert ((tmp_path / "a" / "stream.jsonl").read_bytes() !=
            (tmp_path / "c" / "stream.jsonl").read_bytes())
    stream = [json.loads(line) for line in
              (tmp_path / "a" / "stream.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in
             (tmp_path / "a" / "train.jsonl").read_text().splitlines()]
    assert len(train) == 40  # 4 of 5 folds of 50
    assert not {r["text"] for r in stream} & {r["text"] for r in train}
    assert len({r["text"] for r in stream}) <= 10
    truth = json.loads((tmp_path / "a" / "ground_truth.json").read_text())
    assert len(truth["bursts"]) == 3 and truth["records"] == len(stream)
    assert truth["source"]["training_sentences"] == 40


@pytest.mark.real_data
def test_real_phrasebank_stream(tmp_path):
    from tfllm.data.locate import find_dataset_dir

    if find_dataset_dir("financial_phrasebank", None,
                        ("Sentences_AllAgree.txt",)) is None:
        pytest.skip("Financial PhraseBank not found (../shared/data or "
                    "TFLLM_DATA_DIR)")
    main(ARGS + ["--seed", "0", "--output-dir", str(tmp_path)])
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    # AllAgree: 2,264 sentences, 303 negative (SOURCE.md); fold 1 of 5 is
    # a fifth of each class, minus texts repeated in the other folds.
    assert truth["source"]["training_sentences"] == 1811
    assert 445 <= truth["pool_sentences"] <= 453
    assert truth["pool_negative_sentences"] in (60, 61)
    train = (tmp_path / "train.jsonl").read_text().splitlines()
    assert len(train) == 1811
