import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tiny_faq import tiny_encoder
from tfllm.retrieval.embedding import embed_texts
from tfllm.retrieval.embedding import load_sentence_encoder
from tfllm.retrieval.embedding import vocabulary_fingerprint
from tiny import tiny_cls_tokenizer
from tiny import tiny_tokenizer


def test_embed_texts_keeps_order_and_matches_the_model():
    encoder = tiny_encoder()
    texts = ["a great movie .", "great", "the awful plot", "awful ."]
    got = embed_texts(encoder, texts, batch_size=3)  # sorted, two batches
    for row, text in enumerate(texts):
        want = encoder.embed(tf.constant([text])).numpy()[0]
        np.testing.assert_allclose(got[row], want, atol=1e-5)
    # Mean pooling by hand: the masked mean of the backbone's states.
    encoding = encoder.preprocessor(tf.constant(texts[:1]))
    inputs = {k: encoding[k].to_tensor()
              for k in ("token_ids", "padding_mask", "segment_ids")}
    states = encoder.backbone(inputs)["sequence_output"].numpy()[0]
    mean = states.mean(axis=0)
    np.testing.assert_allclose(got[0], mean / np.linalg.norm(mean),
                               atol=1e-5)


def test_vocabulary_fingerprint_tells_vocabularies_apart():
    assert vocabulary_fingerprint(tiny_cls_tokenizer()) == (
        vocabulary_fingerprint(tiny_cls_tokenizer()))
    assert vocabulary_fingerprint(tiny_cls_tokenizer()) != (
        vocabulary_fingerprint(tiny_tokenizer()))


def test_load_sentence_encoder_from_a_run_folder(tmp_path):
    encoder = tiny_encoder()
    encoder.save(tmp_path / "model.keras")
    loaded = load_sentence_encoder(str(tmp_path))
    np.testing.assert_allclose(embed_texts(loaded, ["great"]),
                               embed_texts(encoder, ["great"]), atol=1e-6)
    # A fresh process that imported nothing else of tfllm loads it too.
    code = ("from tfllm.retrieval.embedding import load_sentence_encoder, "
            "embed_texts\n"
            f"print(embed_texts(load_sentence_encoder({str(tmp_path)!r}), "
            "['great'])[0, 0])")
    result = subprocess.run([sys.executable, "-c", code], text=True,
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.split()[-1]) == pytest.approx(
        float(embed_texts(encoder, ["great"])[0, 0]), abs=1e-5)
