import json
import subprocess
import sys

import numpy as np

from tiny_faq import faq_entries
from tiny_faq import tiny_encoder
from tfllm.apps.customer_service import build_index
from tfllm.export.retrieval_serving import export_retrieval
from tfllm.retrieval.embedding import embed_texts

QUERIES = ["great plot", "awful movie .", "the"]


def test_export_matches_in_memory_search_and_loads_without_tfllm(tmp_path):
    encoder = tiny_encoder()
    entries = faq_entries()
    index = build_index(encoder, entries, "tiny")
    scores, ids = index.search(embed_texts(encoder, QUERIES), 3)
    threshold = float(np.median(scores[:, 0]))
    path = export_retrieval(encoder, index, tmp_path / "faq", k=3,
                            threshold=threshold)
    assert path.name == "1"
    code = (
        "import json, sys, tensorflow as tf, tensorflow_text\n"
        f"serve = tf.saved_model.load({str(path)!r}).signatures["
        "'serving_default']\n"
        f"out = serve(text=tf.constant({QUERIES!r}))\n"
        "print(json.dumps({'tfllm': [m for m in sys.modules if "
        "m.startswith('tfllm')], **{k: v.numpy().tolist() if v.dtype != "
        "tf.string else [[s.decode() for s in r] for r in v.numpy()] "
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
    assert served["handover"] == (scores[:, 0] < threshold).tolist()
    meta = json.loads((path / "assets" / "faq.json").read_text())
    assert meta["threshold"] == threshold and meta["entries"] == 8
