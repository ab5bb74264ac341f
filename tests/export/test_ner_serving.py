"""Raw-text serving export: outside cases BR-01 (spans) and BR-07."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfllm.evaluation.ner_evaluator import predict_tags
from tfllm.export.ner_serving import TEXT_SPEC
from tfllm.export.ner_serving import export_ner
from tfllm.export.ner_serving import make_serving_fn
from tfllm.export.versioned import next_version
from tfllm.inference.ner import NerPredictor
from tiny import NER_LABELS
from tiny import SENTENCE_A
from tiny import tiny_token_classifier

ROOT = pathlib.Path(__file__).resolve().parents[2]


class FixedWordLogits:
    """Stands in for a model: returns given word tags as one-hot logits."""

    def __init__(self, word_tags):
        self.id2label = NER_LABELS
        self.word_tags = word_tags

    def predict_word_logits(self, words):
        ids = tf.constant([NER_LABELS.index(t) for t in self.word_tags])
        return words.with_flat_values(tf.one_hot(ids, len(NER_LABELS)))


def test_br01_character_spans():
    text = "Zorbex hires Anna Kowalski in Lyon ."
    # First-piece predictions of BR-01 (noise on ##wal/##ski is not read).
    model = FixedWordLogits(["B-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "O"])
    out = tf.function(make_serving_fn(model), input_signature=[TEXT_SPEC])(
        tf.constant([text]))
    n = int(out["num_entities"][0])
    spans = [(out["entity_types"][0, i].numpy().decode(),
              int(out["entity_starts"][0, i]), int(out["entity_ends"][0, i]),
              out["entity_texts"][0, i].numpy().decode()) for i in range(n)]
    assert spans == [("ORG", 0, 6, "Zorbex"), ("PER", 13, 26, "Anna Kowalski"),
                     ("LOC", 30, 34, "Lyon")]
    for _, start, end, entity in spans:
        assert text[start:end] == entity


def test_character_offsets_with_non_ascii_text():
    text = "Å  Zorbex\tfrom Kraków 😀 Lyon"
    words = text.split()
    model = FixedWordLogits(["O", "B-ORG", "O", "B-LOC", "O", "B-LOC"])
    out = tf.function(make_serving_fn(model), input_signature=[TEXT_SPEC])(
        tf.constant([text]))
    assert [w.decode() for w in out["words"][0].numpy()] == words
    for i in range(int(out["num_entities"][0])):
        start, end = int(out["entity_starts"][0, i]), int(out["entity_ends"][0, i])
        assert text[start:end] == out["entity_texts"][0, i].numpy().decode()
    assert int(out["num_entities"][0]) == 3


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = tiny_token_classifier(seed=1)
    base = tmp_path_factory.mktemp("saved_models") / "ner"
    path = export_ner(model, base)
    return model, path


def test_export_writes_versions_and_assets(exported, tmp_path):
    model, path = exported
    assert path.name == "1"
    assert (path / "assets" / "labels.txt").read_text().split() == NER_LABELS
    vocab = (path / "assets" / "vocab.txt").read_text().split("\n")
    assert vocab[:4] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    assert next_version(path.parent) == 2
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_export_stores_each_weight_once(exported):
    model, path = exported
    weight_bytes = sum(w.nbytes for w in model.get_weights())
    stored = sum(f.stat().st_size for f in (path / "variables").iterdir())
    # Twice the weights before share_variable_storage; now once plus the
    # checkpoint's index and the tokenizer tables.
    assert weight_bytes < stored < 1.3 * weight_bytes
    names = {v.name for v in tf.saved_model.load(str(path)).variables}
    assert any("kernel" in n for n in names)


def test_br07_signature_and_outputs_without_tfllm(exported):
    model, path = exported
    sentences = ["Anna visited Lyon .", "", " ".join(["Lyon"] * 600),
                 " ".join(SENTENCE_A)]
    code = f"""
import json, sys
import tensorflow as tf, tensorflow_text
serve = tf.saved_model.load({str(path)!r}).signatures["serving_default"]
spec = serve.structured_input_signature
out = serve(text=tf.constant({sentences!r}))
print(json.dumps({{
    "spec": repr(spec),
    "tfllm": [m for m in sys.modules if m.startswith("tfllm")],
    "num_words": out["num_words"].numpy().tolist(),
    "tags": [[t.decode() for t in row] for row in out["tags"].numpy()],
    "scores": out["scores"].numpy().tolist(),
    "dtypes": {{k: v.dtype.name for k, v in out.items()}},
}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, check=True, cwd="/")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["tfllm"] == []
    assert data["spec"] == (
        "((), {'text': TensorSpec(shape=(None,), dtype=tf.string, "
        "name='text')})")
    assert data["num_words"] == [4, 0, 600, 14]
    expected = predict_tags(model, [s.split() for s in sentences])
    served = [row[:n] for row, n in zip(data["tags"], data["num_words"])]
    assert served == expected
    logits = model.predict_word_logits(
        tf.ragged.constant([s.split() for s in sentences], dtype=tf.string))
    probabilities = tf.nn.softmax(logits, axis=-1)
    in_memory = tf.reduce_max(probabilities, axis=-1).to_list()
    for row, n, scores in zip(data["scores"], data["num_words"], in_memory):
        np.testing.assert_allclose(row[:n], scores, atol=1e-5)
    assert data["dtypes"]["scores"] == "float32"
    assert data["dtypes"]["entity_starts"] == "int32"


def test_saved_model_cli_lists_signature(exported):
    _, path = exported
    cli = pathlib.Path(sys.executable).parent / "saved_model_cli"
    out = subprocess.run([str(cli), "show", "--dir", str(path), "--all"],
                         capture_output=True, text=True, check=True).stdout
    assert "signature_def['serving_default']" in out
    assert "dtype: DT_STRING" in out and "shape: (-1)" in out


def test_predictor_from_run_folder_and_export_agree(exported, tmp_path):
    model, path = exported
    model.save(tmp_path / "model.keras")
    text = ["Zorbex hires Anna Kowalski in Lyon .", "Anna visited Lyon ."]
    from_export = NerPredictor(path)(text)
    from_run = NerPredictor(tmp_path)(text)
    assert from_export == from_run
    assert from_export[0]["words"] == text[0].split()
    assert len(from_export[1]["tags"]) == 4


def test_interrupted_export_leaves_no_version(exported, tmp_path, monkeypatch):
    model, _ = exported

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    # Fails after the SavedModel was written, while the assets are added.
    monkeypatch.setattr(model.preprocessor.tokenizer, "get_vocabulary", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export_ner(model, tmp_path / "ner")
    assert list((tmp_path / "ner").iterdir()) == []


def test_bench_serving_latency_script(exported, tmp_path):
    _, path = exported
    texts = tmp_path / "texts.jsonl"
    texts.write_text("\n".join(json.dumps({"text": t}) for t in
                               ["Anna hires Zorbex .", "in Lyon", "again"]))
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_serving_latency.py"),
         str(path), "--texts", str(texts), "--samples", "2",
         "--intra-op-threads", "1", "--inter-op-threads", "1",
         "--output", str(tmp_path / "r.json")],
        capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads((tmp_path / "r.json").read_text())
    assert result == json.loads(out.stdout.strip().splitlines()[-1])
    assert result["texts"] == 2 and result["intra_op_threads"] == 1
    assert 0 < result["p50_ms"] <= result["p95_ms"]
    texts.write_text('{"text": "ok"}\n["not an object"]\n')
    bad = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_serving_latency.py"),
         str(path), "--texts", str(texts)],
        capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode != 0
    assert f"{texts}:2: expected a JSON object" in bad.stderr
