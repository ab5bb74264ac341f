"""Pre-training from Python (`tfllm.MaskedLM`) and from the command line
(`tfllm train mlm`) is one loop: same seed, same losses."""

import json

import numpy as np
import pytest

import tfllm
from tfllm.cli import pretrain_mlm
from tfllm.data.corpus import read_corpora
from tfllm.data.corpus import split_documents

from tiny import SENTENCE_A  # noqa: E402
from tiny import SENTENCE_B  # noqa: E402

WORDS = SENTENCE_A + SENTENCE_B + ["Kowalski", "hires"]
TINY = dict(num_layers=2, num_heads=2, hidden_dim=16, sequence_length=16,
            dropout=0.0)
TRAINING = dict(epochs=2, batch_size=8, learning_rate=3e-3,
                checkpoint_every_steps=0)


def _flags(settings):
    flags = []
    for key, value in settings.items():
        flags += ["--" + key.replace("_", "-"), str(value)]
    return flags


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(1)
    docs = [" ".join(rng.choice(WORDS, rng.integers(4, 10)))
            for _ in range(30)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


def test_masked_lm_from_python_equals_the_command(
        tiny_preset, corpus, tmp_path):
    """Continued pre-training of one encoder (a new WordPiece vocabulary is
    not reproducible: the `tokenizers` trainer breaks ties in no fixed
    order, so two from-scratch runs differ in their vocabulary)."""
    run = pretrain_mlm.main(
        ["--backbone", str(tiny_preset), "--corpus", str(corpus),
         "--sequence-length", "16", "--validation-fraction", "0.2",
         "--output-dir", str(tmp_path), "--run-name", "cli"]
        + _flags(TRAINING))
    summary = json.loads((run / "summary.json").read_text())
    cli_history = [json.loads(line) for line in
                   (run / "metrics.jsonl").read_text().splitlines()]

    # The same from Python: the command's split (seed 0), its seed 42.
    train, held_out = split_documents(read_corpora(str(corpus)), 0.2, seed=0)
    model = tfllm.MaskedLM.from_pretrained(str(tiny_preset),
                                           sequence_length=16, seed=42)
    history = model.fit(train, validation_data=held_out,
                        run_dir=tmp_path / "api", **TRAINING)

    assert len(history) == len(cli_history) == 2
    for api, cli in zip(history, cli_history):
        assert api["val_loss"] == pytest.approx(cli["val_loss"], rel=1e-6)
        assert api["loss"] == pytest.approx(cli["loss"], rel=1e-6)
    before = dict(model.last_fit["held_out_before"])
    before.pop("seconds")
    cli_before = dict(summary["held_out_before"])
    cli_before.pop("seconds")
    assert before == pytest.approx(cli_before, rel=1e-6)
    best = min(history, key=lambda r: r["val_loss"])
    assert best["val_loss"] < before["loss"]
    # evaluate() scores with the per-epoch mask (seed 12345, same batches):
    # the kept (best) epoch's held-out scores.
    scores = model.evaluate(held_out, batch_size=8)
    assert scores["loss"] == pytest.approx(best["val_loss"], rel=1e-5)
    assert scores["perplexity"] == pytest.approx(np.exp(scores["loss"]))
    assert summary["held_out_best"]["loss"] == pytest.approx(
        best["val_loss"], rel=1e-6)


def test_masked_lm_fit_with_a_corpus_path_and_its_saved_preset(
        corpus, tmp_path):
    model = tfllm.MaskedLM.from_scratch(corpus, vocabulary_size=60, seed=0,
                                        **TINY)
    history = model.fit(str(corpus), epochs=1, batch_size=8,
                        validation_fraction=0.2, checkpoint_every_steps=0)
    assert [r["epoch"] for r in history] == [1]
    # run_dir=None trains in a temporary folder.
    assert model.last_fit["validation_documents"] == 6
    folder = model.save_pretrained(tmp_path / "preset")
    again = tfllm.MaskedLM.from_pretrained(str(folder), sequence_length=16)
    np.testing.assert_array_equal(
        again.backbone.token_embedding.embeddings.numpy(),
        model.backbone.token_embedding.embeddings.numpy())
    assert again.tokenizer.get_vocabulary() == \
        model.tokenizer.get_vocabulary()


def test_masked_lm_api_errors(corpus):
    model = tfllm.MaskedLM.from_scratch(corpus, vocabulary_size=60, seed=0,
                                        **TINY)
    with pytest.raises(TypeError, match="unknown training setting.*"
                                        "learning_rat\\b"):
        model.fit(["a b c"], validation_data=["a b"], learning_rat=1e-3)
    with pytest.raises(TypeError, match="x: expected a list of texts"):
        model.evaluate([{"text": "a"}])
    bare = tfllm.MaskedLM(model.backbone)
    with pytest.raises(ValueError, match="no tokenizer"):
        bare.evaluate(["a b c"])
