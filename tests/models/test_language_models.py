"""MaskedLM and CausalLM tasks: tied heads, config, the A-2 label shift."""

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfllm.models.causal_lm import CausalLM
from tfllm.models.causal_lm import new_gpt2_backbone
from tfllm.models.masked_lm import MaskedLM
from tfllm.models.masked_lm import new_bert_backbone


def _tiny_mlm():
    keras.utils.set_random_seed(0)
    return MaskedLM(new_bert_backbone(30, 2, 2, 16, 32, 16, dropout=0.0))


def test_masked_lm_head_is_tied_and_config_round_trips(tmp_path):
    model = _tiny_mlm()
    embedding = model.backbone.token_embedding
    assert model.masked_lm_head.token_embedding is embedding
    # The only vocabulary-sized matrix of the head is the embedding itself;
    # the head adds an output bias.
    vocab_sized = [w for w in model.masked_lm_head.weights
                   if 30 in tuple(w.shape) and len(w.shape) == 2]
    assert vocab_sized == [embedding.embeddings]
    assert [tuple(w.shape) for w in model.masked_lm_head.weights].count(
        (30,)) == 1
    trainable = {id(v) for v in model.trainable_variables}
    assert all(id(v) not in trainable
               for v in model.backbone.pooled_dense.weights)
    x = {"token_ids": tf.constant([[2, 5, 4, 7, 3]]),
         "padding_mask": tf.ones([1, 5], tf.int32),
         "segment_ids": tf.zeros([1, 5], tf.int32),
         "mask_positions": tf.constant([[2, 0]])}
    logits = model(x)
    assert logits.shape == (1, 2, 30)
    clone = MaskedLM.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, MaskedLM)
    np.testing.assert_allclose(loaded(x), logits, atol=1e-6)


def test_causal_lm_uses_labels_as_given():
    """Outside case A-2: the model does not shift again; (5->6) etc."""
    keras.utils.set_random_seed(0)
    model = CausalLM(backbone=new_gpt2_backbone(12, 2, 2, 16, 32, 16, 0.0))
    x = {"token_ids": tf.constant([[5, 6, 7]]),
         "padding_mask": tf.ones([1, 3], tf.int32)}
    y = tf.constant([[6, 7, 8]])
    logits = model(x)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum"))
    loss = model.compute_loss(x=x, y=y, y_pred=logits,
                              sample_weight=tf.fill([1, 3], 1 / 3))
    log_probs = tf.nn.log_softmax(logits[0]).numpy()
    expected = -np.mean([log_probs[0, 6], log_probs[1, 7], log_probs[2, 8]])
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    # The KerasHub generation interface the sampler uses is there.
    hidden, cache = model._build_cache(x["token_ids"])
    assert tuple(cache.shape) == (1, 2, 2, 3, 2, 8)  # layers, k/v, heads
    cached_logits = model.call_with_cache(x["token_ids"][:, :1], cache, 0)[0]
    np.testing.assert_allclose(cached_logits[:, 0], logits[:, 0], atol=1e-5)
    out = model.generate({"token_ids": tf.constant([[5, 6, 0, 0, 0]]),
                          "padding_mask": tf.constant([[1, 1, 0, 0, 0]])},
                         stop_token_ids=None)
    assert out["token_ids"].shape == (1, 5)
    assert out["token_ids"][0, :2].tolist() == [5, 6]
    assert isinstance(model, keras_hub.models.GPT2CausalLM)
