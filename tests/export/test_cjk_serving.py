"""Chinese NER serving: exact character offsets in mixed-script text.

The classifier tags by casing class only (`tiny.casing_rule_classifier`),
so the expected entities below are known by hand.
"""

import json
import subprocess
import sys

import pytest
import tensorflow as tf

from tfllm.export.ner_serving import TEXT_SPEC
from tfllm.export.ner_serving import export_ner
from tfllm.export.ner_serving import make_serving_fn
from tfllm.inference.ner import NerPredictor
from tiny import casing_rule_classifier

TEXTS = [
    "我在Google北京的公司工作，iPhone15很好😀！",  # 17 words: 2 windows
    "😀 Apple ❤️ 东京ＡＢＣ 2024年",
    "👨\u200d👩\u200d👧𠀀Ok",
    "",
]
EXPECTED = [
    [("ORG", 2, 15, "Google北京的公司工作"), ("ORG", 16, 22, "iPhone"),
     ("LOC", 22, 24, "15")],
    [("ORG", 2, 7, "Apple"), ("ORG", 13, 16, "ＡＢＣ"), ("LOC", 17, 21, "2024")],
    [("ORG", 6, 8, "Ok")],
    [],
]


def _spans(out):
    return [
        [(out["entity_types"][row, i].numpy().decode(),
          int(out["entity_starts"][row, i]), int(out["entity_ends"][row, i]),
          out["entity_texts"][row, i].numpy().decode())
         for i in range(int(out["num_entities"][row]))]
        for row in range(len(TEXTS))
    ]


@pytest.fixture(scope="module")
def model():
    return casing_rule_classifier()


def test_in_memory_spans_slice_the_text(model):
    serve = tf.function(make_serving_fn(model), input_signature=[TEXT_SPEC])
    spans = _spans(serve(tf.constant(TEXTS)))
    assert spans == EXPECTED
    for text, entities in zip(TEXTS, spans):
        for _, start, end, entity in entities:
            assert text[start:end] == entity


def test_export_without_tfllm_and_parity(model, tmp_path):
    path = export_ner(model, tmp_path / "ner")
    assert (path / "assets" / "word_splitter.txt").read_text() == "cjk_chars\n"
    code = f"""
import json, sys
import tensorflow as tf, tensorflow_text
serve = tf.saved_model.load({str(path)!r}).signatures["serving_default"]
out = serve(text=tf.constant({TEXTS!r}))
rows = []
for r in range({len(TEXTS)}):
    rows.append([[out["entity_types"][r, i].numpy().decode(),
                  int(out["entity_starts"][r, i]),
                  int(out["entity_ends"][r, i]),
                  out["entity_texts"][r, i].numpy().decode()]
                 for i in range(int(out["num_entities"][r]))])
print(json.dumps({{"rows": rows,
                  "tfllm": [m for m in sys.modules if m.startswith("tfllm")],
                  "num_words": out["num_words"].numpy().tolist()}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, check=True, cwd="/")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["tfllm"] == []
    assert data["num_words"] == [17, 8, 7, 0]
    served = [[tuple(e) for e in row] for row in data["rows"]]
    assert served == EXPECTED
    for text, entities in zip(TEXTS, served):
        for _, start, end, entity in entities:
            assert text[start:end] == entity
    # The saved .keras model keeps the splitter: a run folder predicts the
    # same words and entities as the export.
    model.save(tmp_path / "model.keras")
    from_run = NerPredictor(tmp_path)(TEXTS)
    assert from_run == NerPredictor(path)(TEXTS)
    assert from_run[0]["words"][:4] == ["我", "在", "Google", "北"]
