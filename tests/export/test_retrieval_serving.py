import json
import subprocess
import sys

import numpy as np
import pytest

from tiny_faq import ANSWERS
from tiny_faq import faq_entries
from tiny_faq import tiny_encoder
from tfllm.apps.customer_service import FaqAssistant
from tfllm.apps.customer_service import build_index
from tfllm.export.retrieval_serving import export_retrieval
from tfllm.retrieval.decisions import HANDOVER_MESSAGE
from tfllm.retrieval.embedding import embed_texts

QUERIES = ["great plot", "awful movie .", "the"]


@pytest.mark.parametrize("aggregation,confidence", [
    ("max", "score"), ("vote", "probability")])
def test_export_matches_in_memory_search_and_loads_without_tfllm(
        tmp_path, aggregation, confidence):
    encoder = tiny_encoder()
    entries = faq_entries()
    index = build_index(encoder, entries, "tiny")
    scores, ids = index.search(embed_texts(encoder, QUERIES), 3)
    assistant = FaqAssistant(encoder, index, k=3, aggregation=aggregation,
                             confidence=confidence)
    expected = assistant.answer(QUERIES)
    threshold = float(np.median([r["confidence"] for r in expected]))
    path = export_retrieval(encoder, index, tmp_path / "faq", k=3,
                            threshold=threshold, aggregation=aggregation,
                            confidence=confidence)
    assert path.name == "1"
    code = (
        "import json, sys, tensorflow as tf, tensorflow_text\n"
        f"serve = tf.saved_model.load({str(path)!r}).signatures["
        "'serving_default']\n"
        f"out = serve(text=tf.constant({QUERIES!r}))\n"
        "def plain(x):\n"
        "    return x.decode() if isinstance(x, bytes) else (\n"
        "        [plain(y) for y in x] if isinstance(x, list) else x)\n"
        "print(json.dumps({'tfllm': [m for m in sys.modules if "
        "m.startswith('tfllm')], **{k: plain(v.numpy().tolist()) "
        "for k, v in out.items()}}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["tfllm"] == []
    assert served["ids"] == ids.tolist()
    np.testing.assert_allclose(served["scores"], scores, atol=1e-5)
    assert served["answers"] == [[entries[i].answer for i in row]
                                 for row in ids]
    assert served["intents"] == [[entries[i].intent for i in row]
                                 for row in ids]
    np.testing.assert_allclose(served["confidence"],
                               [r["confidence"] for r in expected],
                               atol=1e-5)
    assert served["handover"] == [r["confidence"] < threshold
                                  for r in expected]
    assert served["intent"] == [r["intent"] for r in expected]
    # The served answer is what the assistant says: the best intent's
    # template, or the hand-over message under the threshold.
    assert served["answer_template"] == [ANSWERS[r["intent"]]
                                         for r in expected]
    assert served["answer"] == [
        HANDOVER_MESSAGE if r["confidence"] < threshold
        else ANSWERS[r["intent"]] for r in expected]
    assert HANDOVER_MESSAGE in served["answer"]
    meta = json.loads((path / "assets" / "faq.json").read_text())
    assert meta["threshold"] == threshold and meta["entries"] == 8
