import pytest

from tfllm.training.optimizers import make_adamw
from tiny import tiny_token_classifier


def test_no_weight_decay_on_biases_and_layer_norm():
    model = tiny_token_classifier()
    optimizer = make_adamw(1e-4, total_steps=100)
    optimizer.build(model.trainable_variables)
    decayed = {v.path: optimizer._use_weight_decay(v)
               for v in model.trainable_variables}
    assert decayed["classifier_head/kernel"]
    assert not decayed["classifier_head/bias"]
    norms = [p for p in decayed if "layer_norm" in p]
    assert norms and not any(decayed[p] for p in norms)
    assert optimizer.global_clipnorm == 1.0
    schedule = optimizer.get_config()["learning_rate"]["config"]
    assert (schedule["warmup_steps"], schedule["total_steps"]) == (10, 100)


def test_tiny_runs_keep_one_update_after_warmup():
    optimizer = make_adamw(1e-4, total_steps=1, warmup_ratio=0.5)
    schedule = optimizer.get_config()["learning_rate"]["config"]
    assert schedule["warmup_steps"] == 0
    with pytest.raises(ValueError):
        make_adamw(1e-4, total_steps=0)


def test_zero_max_grad_norm_turns_clipping_off():
    assert make_adamw(1e-4, total_steps=10, max_grad_norm=0.0).global_clipnorm is None


def _adamw_steps(optimizer_class, sparse=False, steps=4):
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    weights = [keras.Variable(rng.normal(size=(6, 4)).astype("float32"),
                              name="kernel"),
               keras.Variable(rng.normal(size=(4,)).astype("float32"),
                              name="bias")]
    optimizer = optimizer_class(learning_rate=1e-2, weight_decay=0.1,
                                epsilon=1e-8, global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    for step in range(steps):
        grads = [tf.constant(rng.normal(size=w.shape).astype("float32"))
                 for w in weights]
        if sparse:
            grads[0] = tf.IndexedSlices(grads[0][:2], tf.constant([1, 4]),
                                        tf.constant([6, 4]))
        optimizer.apply(grads, weights)
    return [w.numpy() for w in weights], optimizer


@pytest.mark.parametrize("sparse", [False, True])
def test_fused_adamw_equals_keras_adamw(sparse):
    import keras
    import numpy as np

    from tfllm.training.optimizers import FusedAdamW

    fused, optimizer = _adamw_steps(FusedAdamW, sparse)
    reference, _ = _adamw_steps(keras.optimizers.AdamW, sparse)
    start, _ = _adamw_steps(FusedAdamW, sparse, steps=0)
    for got, want, before in zip(fused, reference, start):
        assert np.abs(want - before).max() > 1e-3  # the steps moved them
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert int(optimizer.iterations.numpy()) == 4


def test_make_adamw_is_fused_and_round_trips():
    import keras

    from tfllm.training.optimizers import FusedAdamW

    optimizer = make_adamw(1e-4, total_steps=100)
    assert isinstance(optimizer, FusedAdamW)
    copy = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(copy, FusedAdamW) and copy.weight_decay == 0.01
