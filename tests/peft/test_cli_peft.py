"""`--peft` in train_ner and train_classifier, end to end on tiny data."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.cli import train_classifier
from tfllm.cli import train_ner
from tfllm.peft.base import get_peft_state
from tfllm.peft.saving import read_adapter_config
from tiny import CLS_GOLD
from tiny import CLS_TEXTS
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import write_conll
from tiny import write_csv


def test_train_ner_lora(tiny_preset, tmp_path, capsys):
    folder = tmp_path / "conll"
    folder.mkdir()
    write_conll(folder / "train.txt",
                [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)] * 4)
    write_conll(folder / "valid.txt", [(SENTENCE_B, TAGS_B)])

    def run(epochs, export):
        return train_ner.main([
            "--backbone", str(tiny_preset), "--data-dir", str(folder),
            "--epochs", str(epochs), "--batch-size", "4", "--max-length",
            "8", "--learning-rate", "1e-3", "--output-dir",
            str(tmp_path / "runs"), "--run-name", "lora", "--export-dir",
            str(tmp_path / "sm"), "--peft", "lora", "--peft-config",
            "r=4,lora_alpha=8"] + ([] if export else ["--no-export"]))

    run(1, export=False)
    out = capsys.readouterr().out
    assert "PEFT lora: 4 layers; trainable params:" in out
    run_dir = run(2, export=True)  # resumes from the epoch-1 checkpoint
    assert "resuming" in capsys.readouterr().out
    epochs = [json.loads(line)["epoch"] for line in
              (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["peft"]["r"] == 4
    assert 0 < summary["trainable_percent"] < 100
    assert summary["adapter_bytes"] < 100_000
    saved = read_adapter_config(run_dir / "adapter")
    assert saved["base_model"]["name_or_path"] == str(tiny_preset)
    model = keras.models.load_model(run_dir / "model.keras")
    assert get_peft_state(model).config.r == 4
    # The export holds the merged kernels: no LoRA variables.
    exported = tf.saved_model.load(str(tmp_path / "sm" / "1"))
    names = [v.name for v in exported.variables]
    assert names and not [n for n in names if "lora" in n]
    result = exported.signatures["serving_default"](
        text=tf.constant([" ".join(SENTENCE_B)]))
    words = [[w.decode() for w in row]
             for row in result["words"].numpy()]
    assert words == [SENTENCE_B]


def test_train_classifier_unknown_setting(tiny_cls_preset, tmp_path):
    path = write_csv(tmp_path / "train.csv", list(zip(CLS_TEXTS, CLS_GOLD)))
    with pytest.raises(SystemExit, match="unknown fields \\['rank'\\]"):
        train_classifier.main([
            "--backbone", str(tiny_cls_preset), "--train-file", str(path),
            "--validation-file", str(path), "--epochs", "1",
            "--output-dir", str(tmp_path / "runs"), "--no-export",
            "--peft", "lora", "--peft-config", "rank=4"])


def test_train_classifier_adalora(tiny_cls_preset, tmp_path):
    path = write_csv(tmp_path / "train.csv", list(zip(CLS_TEXTS, CLS_GOLD)))
    run_dir = train_classifier.main([
        "--backbone", str(tiny_cls_preset), "--train-file", str(path),
        "--validation-file", str(path), "--epochs", "3", "--batch-size",
        "4", "--learning-rate", "1e-2", "--output-dir",
        str(tmp_path / "runs"), "--run-name", "ada", "--no-export",
        "--peft", "adalora", "--peft-config",
        "init_r=4,target_r=2,tinit=1,tfinal=2"])
    # 2 steps per epoch, 6 updates: the budget ends at 2 per layer.
    pattern = json.loads(
        (run_dir / "adalora_rank_pattern.json").read_text())
    assert len(pattern) == 4 and sum(pattern.values()) == 8
    # The run keeps its best epoch (here maybe before the last pruning):
    # the adapter records that model's ranks.
    model = keras.models.load_model(run_dir / "model.keras")
    state = get_peft_state(model)
    saved = read_adapter_config(run_dir / "adapter")
    assert saved["rank_pattern"] == {
        p: layer.rank() for p, layer in state.layers.items()}
    # The importance scores were updated inside the compiled train step.
    layer = next(iter(state.layers.values()))
    assert layer.scores["lora_E"][0].numpy().max() > 0


def test_train_classifier_folds_apply_the_method_to_every_fold(
        tiny_cls_preset, tmp_path, capsys):
    path = write_csv(tmp_path / "train.csv", list(zip(CLS_TEXTS, CLS_GOLD)))
    run_dir = train_classifier.main([
        "--backbone", str(tiny_cls_preset), "--train-file", str(path),
        "--folds", "2", "--epochs", "1", "--batch-size", "4",
        "--output-dir", str(tmp_path / "runs"), "--run-name", "cv",
        "--no-export", "--peft", "prefix", "--peft-config",
        "num_virtual_tokens=3"])
    assert capsys.readouterr().out.count("PEFT prefix:") == 2
    for fold in (1, 2):
        record = json.loads(
            (run_dir / f"fold{fold}" / "fold_result.json").read_text())
        assert record["peft"]["num_virtual_tokens"] == 3
        assert 0 < record["trainable_percent"] < 50
