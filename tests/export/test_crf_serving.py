"""A CRF TokenClassifier's SavedModel decodes with Viterbi in the graph."""

import json
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tfllm.evaluation.ner_evaluator import predict_tags
from tfllm.export.ner_serving import export_ner
from tfllm.models.token_classifier import TokenClassifier
from tfllm.preprocessing.token_classification_preprocessor import (
    TokenClassificationPreprocessor,
)
from tiny import NER_LABELS
from tiny import SENTENCE_A
from tiny import tiny_backbone
from tiny import tiny_tokenizer

SENTENCES = ["Anna visited Lyon .", "", " ".join(SENTENCE_A),
             "Zorbex hires Anna Kowalski in Lyon .",
             " ".join(["Lyon", "Porto"] * 40)]


def test_exported_crf_model_gives_the_in_memory_viterbi_tags(tmp_path):
    preprocessor = TokenClassificationPreprocessor(tiny_tokenizer(), 16)
    model = TokenClassifier(tiny_backbone(seed=6), NER_LABELS,
                            preprocessor=preprocessor, head="crf")
    rng = np.random.default_rng(0)
    for variable in model.crf.weights:
        variable.assign(3 * rng.normal(size=variable.shape))
    path = export_ner(model, tmp_path / "ner")
    code = f"""
import json, sys
import tensorflow as tf, tensorflow_text
serve = tf.saved_model.load({str(path)!r}).signatures["serving_default"]
out = serve(text=tf.constant({SENTENCES!r}))
print(json.dumps({{
    "tfllm": [m for m in sys.modules if m.startswith("tfllm")],
    "num_words": out["num_words"].numpy().tolist(),
    "tags": [[t.decode() for t in row] for row in out["tags"].numpy()],
    "scores": out["scores"].numpy().tolist(),
}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, check=True, cwd="/")
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["tfllm"] == []
    tags = [row[:n] for row, n in zip(served["tags"], served["num_words"])]
    words = [s.split() for s in SENTENCES]
    assert tags == predict_tags(model, words)
    # Viterbi, not the argmax: the transitions change some tags.
    logits = model.predict_word_logits(tf.ragged.constant(words))
    argmax = [[NER_LABELS[i] for i in np.argmax(row, -1)]
              for row in logits.to_list() if row]
    assert [t for t in tags if t] != argmax
    # Scores: the emission softmax at the decoded tag.
    for row, n, sentence_tags, sentence_logits in zip(
            served["scores"], served["num_words"], tags, logits.to_list()):
        probabilities = tf.nn.softmax(sentence_logits, axis=-1).numpy() \
            if sentence_logits else np.zeros((0, len(NER_LABELS)))
        expected = [p[NER_LABELS.index(t)]
                    for p, t in zip(probabilities, sentence_tags)]
        np.testing.assert_allclose(row[:n], expected, atol=1e-5)


def test_litert_bundle_carries_the_crf_and_numpy_viterbi_matches(tmp_path):
    """The LiteRT bundle's crf.json + NumPy Viterbi give the graph's path."""
    from tfllm.export.litert_bundle import viterbi
    from tfllm.export.litert_bundle import write_bundle

    preprocessor = TokenClassificationPreprocessor(tiny_tokenizer(), 16)
    model = TokenClassifier(tiny_backbone(seed=6), NER_LABELS,
                            preprocessor=preprocessor, head="crf")
    rng = np.random.default_rng(1)
    for variable in model.crf.weights:
        variable.assign(3 * rng.normal(size=variable.shape))
    folder = write_bundle(model, tmp_path / "bundle", {}, {})
    crf = json.loads((folder / "crf.json").read_text())
    words = [s.split() for s in SENTENCES]
    logits = model.predict_word_logits(tf.ragged.constant(words))
    expected = model.decode_word_logits(logits).to_list()
    # Large random emissions too, so the transitions are not the only cue.
    scaled = [np.asarray(row) * 4 for row in logits.to_list()]
    expected_scaled = model.decode_word_logits(tf.ragged.constant(
        [row.tolist() for row in scaled], ragged_rank=1)).to_list()
    got = [viterbi(row, crf["transitions"], crf["start"], crf["end"])
           for row in logits.to_list()]
    got_scaled = [viterbi(row, crf["transitions"], crf["start"], crf["end"])
                  for row in scaled]
    assert got == expected and got_scaled == expected_scaled
    assert got != [list(np.argmax(row, -1)) if row else []
                   for row in logits.to_list()]
    # A softmax model's bundle has no crf.json (argmax decoding).
    softmax = TokenClassifier(tiny_backbone(seed=6), NER_LABELS,
                              preprocessor=preprocessor)
    assert not (write_bundle(softmax, tmp_path / "b2", {}, {})
                / "crf.json").exists()
