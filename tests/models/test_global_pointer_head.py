"""A TokenClassifier with a GlobalPointer span head: fit through the Python
API, save/load, resume, and the same entities from `predict`, the raw-text
SavedModel and the LiteRT bundle (case BR-21 end to end)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfllm.models.token_classifier import TokenClassifier
from tfllm.preprocessing.token_classification_preprocessor import (
    TokenClassificationPreprocessor,
)
from tiny import NER_LABELS
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import tiny_backbone
from tiny import tiny_tokenizer

SENTENCES = [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B),
             ("Zorbex hires Anna Kowalski in Lyon .".split(),
              ["B-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "O"])]
SETTINGS = {"learning_rate": 3e-3, "head_learning_rate": 3e-2,
            "warmup_ratio": 0.0}
TEXTS = ["Anna visited Lyon .", "", " ".join(SENTENCE_A),
         "Zorbex hires Anna Kowalski in Lyon ."]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny span-head model fitted on 3 sentences (30 updates)."""
    run_dir = tmp_path_factory.mktemp("gp") / "run"
    preprocessor = TokenClassificationPreprocessor(tiny_tokenizer(), 16)
    model = TokenClassifier(tiny_backbone(0), NER_LABELS,
                            preprocessor=preprocessor, dropout=0.0,
                            head="efficient_global_pointer", head_size=8)
    history = model.fit(SENTENCES * 30, epochs=2, batch_size=6,
                        run_dir=run_dir, **SETTINGS)
    return model, history, run_dir


def test_fit_learns_spans_and_round_trips(trained):
    """The loss falls, the training sentences come back exactly (entity F1
    1.0 by seqeval strict IOB2), and `load` gives the same model."""
    model, history, run_dir = trained
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < 0.3 * losses[0]
    words = [w for w, _ in SENTENCES]
    assert model.predict(words) == [t for _, t in SENTENCES]
    assert model.evaluate(SENTENCES)["f1"] == 1.0
    loaded = TokenClassifier.load(run_dir)
    assert (loaded.head, loaded.head_size) == ("efficient_global_pointer", 8)
    assert loaded.get_config()["head_size"] == 8
    assert loaded.predict(words) == model.predict(words)
    # Every span, nested ones too: here exactly the gold entities.
    spans = loaded.decode_word_spans(loaded.predict_word_logits(
        tf.ragged.constant(words[2:], row_splits_dtype=tf.int64)))
    assert sorted(zip(spans["start"][0].numpy().tolist(),
                      spans["end"][0].numpy().tolist())) == [
        (0, 0), (2, 3), (5, 5)]
    # A finished run folder resumes without training again.
    again = TokenClassifier.load(run_dir)
    assert len(again.fit(SENTENCES * 30, epochs=2, batch_size=6,
                         run_dir=run_dir, **SETTINGS)) == 0
    with pytest.raises(ValueError, match="label_all_tokens"):
        again.fit(SENTENCES, epochs=1, label_all_tokens=True)


def test_saved_model_and_litert_give_the_same_entities(trained, tmp_path):
    """predict == raw-text SavedModel == LiteRT bundle (float32)."""
    from tfllm.export.litert_bundle import LiteRTTask

    model, _, _ = trained
    expected = model.predict(TEXTS)
    assert sum(len(r["entities"]) for r in expected) >= 5
    path = model.export(tmp_path / "sm")
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    out = serve(text=tf.constant(TEXTS))
    for i, result in enumerate(expected):
        n = int(out["num_entities"][i])
        served = [{"type": out["entity_types"][i, k].numpy().decode(),
                   "start": int(out["entity_starts"][i, k]),
                   "end": int(out["entity_ends"][i, k])} for k in range(n)]
        assert served == [{k: e[k] for k in ("type", "start", "end")}
                          for e in result["entities"]]
        m = int(out["num_words"][i])
        assert [t.decode() for t in out["tags"][i, :m].numpy()] == \
            result["tags"]
        scores = out["scores"][i, :m].numpy()
        assert ((scores > 0.5) & (scores <= 1.0)).all()
    bundle = model.export(tmp_path / "lite", format="litert",
                          flavours=["float32"],
                          calibration_data=[w for w, _ in SENTENCES])
    assert (bundle / "span_head.json").is_file()
    words = [t.split() for t in TEXTS]
    task = LiteRTTask(bundle, "float32")
    assert task.predict(words) == [r["tags"] for r in expected]
    # The agreement check compares span cells by sign (> 0: a span).
    report = json.loads((bundle / "export_report.json").read_text())
    assert report["float32"]["agreement"] == 1.0
    assert report["float32"]["tagged_compared"] >= 5


def test_cli_flags_reach_the_config_and_bad_combinations_fail():
    """`tfllm train ner --head efficient_global_pointer --head-size 16`."""
    from tfllm.cli.args import parse_dataclasses
    from tfllm.cli.train_ner import PARSER_CLASSES
    from tfllm.models.token_classifier import HEADS
    from tfllm.runs.ner import HEADS as CLI_HEADS
    from tfllm.runs.ner import run

    config, _, _ = parse_dataclasses(PARSER_CLASSES, [
        "--head", "efficient_global_pointer", "--head-size", "16"])
    assert (config.head, config.head_size) == ("efficient_global_pointer", 16)
    assert set(CLI_HEADS) == set(HEADS)
    config.label_all_tokens = True
    with pytest.raises(SystemExit, match="label-all-tokens"):
        run(config)
    with pytest.raises(ValueError, match="I-PER"):
        TokenClassifier(tiny_backbone(0), ["O", "B-PER"],
                        head="global_pointer", head_size=8)
