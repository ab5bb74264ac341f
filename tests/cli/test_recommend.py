"""`tfllm recommend train|evaluate|recommend|export` on files the test
writes (an id-only two-tower and the popularity model: no language model)."""

import json

import numpy as np
import pytest

from tfllm.cli.recommend import main
from tfllm.data.errors import DataFormatError
from tfllm.data.errors import UserInputError


def _write(tmp_path, bad_item=False):
    rng = np.random.default_rng(0)
    items = tmp_path / "items.csv"
    items.write_text("item_id,title,genre\n" + "".join(
        f"i{i},Item {i},{'odd' if i % 2 else 'even'}\n" for i in range(12)))
    rows = ["user_id,item_id,timestamp"]
    for u in range(8):
        for t, i in enumerate(rng.permutation(12)[:6]):
            rows.append(f"u{u},i{i},{t}")
    if bad_item:
        rows.append("u0,i99,100")
    interactions = tmp_path / "clicks.csv"
    interactions.write_text("\n".join(rows) + "\n")
    return interactions, items


def test_train_evaluate_recommend_popularity(tmp_path, capsys):
    interactions, items = _write(tmp_path)
    run = main(["train", "--interactions-file", str(interactions),
                "--items-file", str(items), "--model", "popularity",
                "--output-dir", str(tmp_path), "--run-name", "pop"])
    summary = json.loads((run / "summary.json").read_text())
    assert 0.0 <= summary["test_ndcg@10"] <= summary["test_recall@10"] <= 1.0
    capsys.readouterr()
    results = main(["recommend", "--run", str(run), "--user", "u0",
                    "--k", "3"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()
             if x.startswith("{")]
    assert [r["item_id"] for r in results] == [x["item_id"] for x in lines]
    assert [x["rank"] for x in lines] == [1, 2, 3]
    # the most-popular unseen items, best first
    seen = {"i" + line.split(",")[1][1:] for line in
            interactions.read_text().splitlines()[1:] if line.startswith("u0,")}
    assert not seen & {r["item_id"] for r in results}
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    scores = main(["evaluate", "--run", str(run), "--stage", "valid"])
    assert scores["users"] == 8


def test_train_id_two_tower_writes_a_run_folder(tmp_path):
    interactions, items = _write(tmp_path)
    run = main(["train", "--interactions-file", str(interactions),
                "--items-file", str(items), "--model", "id-two-tower",
                "--embedding-dim", "8", "--epochs", "2", "--batch-size", "16",
                "--output-dir", str(tmp_path), "--run-name", "ids",
                "--report-to", "none"])
    for name in ("model.keras", "recommender.json", "metrics.jsonl",
                 "config.yaml", "summary.json"):
        assert (run / name).is_file(), name
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    again = main(["evaluate", "--run", str(run)])
    summary = json.loads((run / "summary.json").read_text())
    assert again["ndcg@10"] == pytest.approx(summary["test_ndcg@10"])


def test_unknown_item_ids_are_reported_with_their_line(tmp_path):
    interactions, items = _write(tmp_path, bad_item=True)
    with pytest.raises(DataFormatError, match=r"clicks\.csv:50.*i99"):
        main(["train", "--interactions-file", str(interactions),
              "--items-file", str(items), "--model", "popularity",
              "--output-dir", str(tmp_path), "--run-name", "bad"])


def test_recommend_needs_a_run_folder():
    with pytest.raises(UserInputError, match="--run"):
        main(["recommend", "--user", "u0"])


def test_export_serves_the_same_top_items(tmp_path):
    """The exported SavedModel, loaded with plain TensorFlow, ranks like
    `recommend` for a history of raw item ids; an id-only model, whose
    user tower cannot read a history, is refused."""
    import sys

    import tensorflow as tf

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
    from tiny_faq import tiny_encoder

    interactions, items = _write(tmp_path)
    (tmp_path / "encoder").mkdir()
    tiny_encoder().save(tmp_path / "encoder" / "model.keras")
    common = ["--interactions-file", str(interactions), "--items-file",
              str(items), "--embedding-dim", "8", "--epochs", "1",
              "--batch-size", "16", "--output-dir", str(tmp_path),
              "--report-to", "none"]
    run = main(["train", *common, "--model", "text-two-tower",
                "--backbone", str(tmp_path / "encoder"), "--user-tower",
                "mean", "--run-name", "text"])
    path = main(["export", "--run", str(run), "--export-dir",
                 str(tmp_path / "export"), "--k", "4"])
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    out = serve(item_ids=tf.constant([["i3", "i5"]]))
    served = [x.decode() for x in out["item_ids"].numpy()[0]]
    assert not {"i3", "i5"} & set(served)
    from tfllm.runs.recommend import load_run

    rec, _, _ = load_run(run)
    expected = rec.recommend(history=["i3", "i5"], k=4)
    assert served == [r["item_id"] for r in expected]

    ids = main(["train", *common, "--model", "id-two-tower",
                "--run-name", "ids"])
    with pytest.raises(UserInputError, match="user-id embedding"):
        main(["export", "--run", str(ids)])
    with pytest.raises(UserInputError, match="user-id embedding"):
        main(["recommend", "--run", str(ids), "--items", "i3,i5"])


def test_bad_choices_stop_before_the_data_is_read(tmp_path):
    with pytest.raises(UserInputError, match="negatives must be one of"):
        main(["train", "--negatives", "inbatch", "--output-dir",
              str(tmp_path), "--run-name", "x"])
    assert not (tmp_path / "x").exists()


def test_skipped_rows_are_counted_and_listed(tmp_path, capsys):
    interactions, items = _write(tmp_path, bad_item=True)
    run = main(["train", "--interactions-file", str(interactions),
                "--items-file", str(items), "--model", "popularity",
                "--skip-bad-rows", "--output-dir", str(tmp_path),
                "--run-name", "skip"])
    assert "skipped 1 bad rows" in capsys.readouterr().out
    listed = json.loads((run / "skipped_rows.json").read_text())
    assert listed["rows"][0]["line"] == 50
    assert json.loads((run / "summary.json").read_text())["skipped_rows"] == 1


def test_resuming_with_other_settings_is_refused(tmp_path):
    interactions, items = _write(tmp_path)
    args = ["train", "--interactions-file", str(interactions),
            "--items-file", str(items), "--model", "popularity",
            "--output-dir", str(tmp_path), "--run-name", "pop"]
    main(args)
    with pytest.raises(UserInputError, match="embedding_dim: 64 -> 32"):
        main(args + ["--embedding-dim", "32"])


def test_peft_lora_fine_tunes_only_the_adapters_of_the_item_encoder(
        tmp_path):
    """`--peft lora` with `--encoder-items-per-step`: the item tower's
    language model trains through LoRA only (its own weights stay), and
    the run folder reloads."""
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
    from tiny_faq import tiny_encoder

    interactions, items = _write(tmp_path)
    (tmp_path / "encoder").mkdir()
    encoder = tiny_encoder()
    encoder.save(tmp_path / "encoder" / "model.keras")
    run = main(["train", "--interactions-file", str(interactions),
                "--items-file", str(items), "--model", "text-two-tower",
                "--backbone", str(tmp_path / "encoder"), "--user-tower",
                "mean", "--embedding-dim", "8", "--epochs", "2",
                "--batch-size", "4", "--warmup-ratio", "0",
                "--encoder-items-per-step", "4", "--peft", "lora",
                "--peft-config", "r=2,lora_alpha=4",
                "--output-dir", str(tmp_path), "--run-name", "lora",
                "--report-to", "none"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["peft"]["peft"]["method"] == "lora"
    assert 0 < summary["peft"]["trainable_parameters"] < summary[
        "peft"]["total_parameters"]
    from tfllm.runs.recommend import load_run

    rec, _, _ = load_run(run)
    trained = rec.model.item_encoder
    lora = [v for v in trained.trainable_variables if "lora" in v.path]
    assert lora and any(np.abs(v.numpy()).sum() > 0 for v in lora)
    base = {v.path: v.numpy() for v in encoder.backbone.weights}
    compared = 0
    for v in trained.backbone.weights:
        if v.path in base and "lora" not in v.path:
            np.testing.assert_array_equal(v.numpy(), base[v.path])
            compared += 1
    assert compared >= len(base) // 2
