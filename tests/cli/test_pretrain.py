"""End to end: pre-train tiny models, then fine-tune through train_ner."""

import json

import keras_hub
import numpy as np
import pytest

from cli.test_train_ner import conll_dir  # noqa: F401,F811 (fixture)
from tfllm.backbones import load_backbone
from tfllm.cli import pretrain_clm
from tfllm.cli import pretrain_mlm
from tfllm.cli import train_ner
from tiny import SENTENCE_A
from tiny import SENTENCE_B

TINY = ["--num-layers", "2", "--num-heads", "2", "--hidden-dim", "16",
        "--sequence-length", "16", "--batch-size", "8", "--dropout", "0",
        "--checkpoint-every-steps", "0"]


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(0)
    words = SENTENCE_A + SENTENCE_B + ["Kowalski", "hires"]
    docs = ["\n".join(" ".join(rng.choice(words, rng.integers(3, 9)))
                      for _ in range(rng.integers(1, 3)))
            for _ in range(40)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


def test_mlm_pretrained_bert_fine_tunes_in_train_ner(
        corpus, conll_dir, tmp_path):  # noqa: F811
    run = pretrain_mlm.main(
        ["--corpus", str(corpus), "--vocabulary-size", "60", "--epochs", "6",
         "--learning-rate", "3e-3", "--output-dir", str(tmp_path / "runs"),
         "--run-name", "mlm", "--validation-fraction", "0.2"] + TINY)
    summary = json.loads((run / "summary.json").read_text())
    before, best = summary["held_out_before"], summary["held_out_best"]
    assert best["loss"] < before["loss"] - 0.2
    assert best["accuracy"] > before["accuracy"]
    folder = run / "pretrained"
    backbone, tokenizer = load_backbone(str(folder))
    assert isinstance(backbone, keras_hub.models.BertBackbone)
    assert tokenizer.vocabulary_size() <= 60
    # The pre-trained folder goes to train_ner as it is, no conversion.
    ner = train_ner.main(
        ["--backbone", str(folder), "--data-dir", str(conll_dir),
         "--epochs", "1", "--batch-size", "4", "--max-length", "16",
         "--output-dir", str(tmp_path / "runs"), "--run-name", "ner",
         "--no-export"])
    ner_summary = json.loads((ner / "summary.json").read_text())
    assert 0.0 <= ner_summary["validation_entity_f1_strict"] <= 1.0


def test_domain_adaptive_pretraining_of_a_headless_encoder(
        tiny_preset, corpus, tmp_path):
    original, _ = load_backbone(str(tiny_preset))
    assert not (tiny_preset / "task.json").exists()  # no MLM head saved
    run = pretrain_mlm.main(
        ["--backbone", str(tiny_preset), "--corpus", str(corpus),
         "--epochs", "2", "--learning-rate", "3e-3", "--batch-size", "8",
         "--sequence-length", "16", "--output-dir", str(tmp_path / "runs"),
         "--run-name", "dapt", "--validation-fraction", "0.2"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["held_out_best"]["loss"] < summary["held_out_before"][
        "loss"]
    adapted, tokenizer = load_backbone(str(run / "pretrained"))
    assert tokenizer.get_vocabulary() == load_backbone(
        str(tiny_preset))[1].get_vocabulary()
    before = original.token_embedding.embeddings.numpy()
    after = adapted.token_embedding.embeddings.numpy()
    assert before.shape == after.shape and not np.allclose(before, after)


def test_clm_pretraining_reports_perplexity_and_saves_a_decoder(
        corpus, tmp_path, capsys):
    run = pretrain_clm.main(
        ["--corpus", str(corpus), "--vocabulary-size", "300", "--epochs",
         "3", "--learning-rate", "1e-2", "--output-dir",
         str(tmp_path / "runs"), "--run-name", "clm", "--sample-prompts",
         "Anna visited|the board", "--sample-length", "40",  # > context 16
         "--validation-fraction", "0.2"] + TINY)
    out = capsys.readouterr().out
    assert "--- sample ('Anna visited')" in out
    summary = json.loads((run / "summary.json").read_text())
    best = summary["held_out_best"]
    assert best["loss"] < summary["held_out_before"]["loss"]
    assert best["perplexity"] == pytest.approx(np.exp(best["loss"]))
    assert set(summary["samples"]) == {"Anna visited", "the board"}
    assert all(s.startswith(p) for p, s in summary["samples"].items())
    import tfllm.models.causal_lm  # noqa: F401 (registers the task class)

    folder = run / "pretrained"
    model = keras_hub.models.CausalLM.from_preset(str(folder))
    assert model.generate("Anna", max_length=6).startswith("Anna")
    backbone, tokenizer = load_backbone(str(folder))
    assert isinstance(backbone, keras_hub.models.GPT2Backbone)
    assert isinstance(tokenizer, keras_hub.tokenizers.GPT2Tokenizer)


def test_clm_samples_show_document_boundaries():
    """The end-of-text token between two documents is written out, not
    dropped (dropped, 'father?' ran into the next speaker's name)."""
    from tfllm.cli.pretrain_clm import render_samples
    from tfllm.preprocessing.tokenizer_training import (
        byte_level_bpe_tokenizer, train_byte_level_bpe)

    tokenizer = byte_level_bpe_tokenizer(*train_byte_level_bpe(
        ["the father?", "First Servingman: I will."], 300))
    end = tokenizer.end_token_id
    first = np.asarray(tokenizer("the father?")).tolist()
    second = np.asarray(tokenizer("First")).tolist()
    row = [end] + first + [end] + second + [0, 0]
    outputs = {"token_ids": np.array([row]),
               "padding_mask": np.array([[1] * (len(row) - 2) + [0, 0]])}
    assert render_samples(tokenizer, outputs) == [
        "the father?\n<|endoftext|>\nFirst"]
