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


def _one_step(multipliers, weight_decay=0.0, sparse=False):
    """Moves of `head/kernel` and `body/kernel` after one FusedAdamW step."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tfllm.training.optimizers import FusedAdamW

    rng = np.random.default_rng(0)
    layer = keras.layers.Dense(3, name="head")
    layer.build((None, 4))
    other = keras.layers.Dense(3, name="body")
    other.build((None, 4))
    variables = [layer.kernel, other.kernel]
    before = [v.numpy() for v in variables]
    grads = [tf.constant(rng.normal(size=v.shape).astype("float32"))
             for v in variables]
    if sparse:
        grads = [tf.IndexedSlices(g, tf.range(4), tf.constant([4, 3]))
                 for g in grads]
    optimizer = FusedAdamW(learning_rate=1e-3, weight_decay=weight_decay,
                           learning_rate_multipliers=multipliers)
    optimizer.apply(grads, variables)
    return [v.numpy() - b for v, b in zip(variables, before)]


@pytest.mark.parametrize("sparse", [False, True])
def test_learning_rate_multiplier_moves_a_variable_ten_times_as_far(sparse):
    import numpy as np

    base = _one_step(None, sparse=sparse)
    scaled = _one_step({"^head/": 10.0}, sparse=sparse)
    # Adam's first step is lr * sign(g) (up to epsilon): scaling the
    # gradient would not change it; the multiplier does, for `head` only.
    np.testing.assert_allclose(np.abs(base[0]), 1e-3, rtol=1e-3)
    # (Differences of float32 weights near 0.5: compared to 1e-6.)
    np.testing.assert_allclose(scaled[0], 10 * base[0], atol=1e-6)
    np.testing.assert_allclose(scaled[1], base[1], atol=1e-7)


def test_learning_rate_multiplier_scales_weight_decay_too():
    import keras
    import numpy as np
    import tensorflow as tf

    from tfllm.training.optimizers import FusedAdamW

    # With zero gradients only the decoupled decay moves the weights:
    # -lr * factor * wd * w, as a PyTorch parameter group with its own lr.
    kernel = keras.Variable(np.ones((2, 2), np.float32), name="kernel")
    optimizer = FusedAdamW(learning_rate=0.1, weight_decay=0.5,
                           learning_rate_multipliers={"kernel": 4.0})
    optimizer.apply([tf.zeros((2, 2))], [kernel])
    np.testing.assert_allclose(kernel.numpy(), 1 - 0.1 * 4.0 * 0.5,
                               rtol=1e-6)


def test_learning_rate_multipliers_round_trip_and_validate():
    import keras

    from tfllm.training.optimizers import FusedAdamW

    optimizer = make_adamw(1e-4, total_steps=10, learning_rate_multipliers={
        "^crf/": 30.0, "^classifier_head/": 20.0})
    copy = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert copy.learning_rate_multipliers == {"^crf/": 30.0,
                                              "^classifier_head/": 20.0}
    assert list(copy.learning_rate_multipliers) == ["^crf/",
                                                    "^classifier_head/"]
    assert copy.learning_rate_factor("crf/transitions") == 30.0
    assert copy.learning_rate_factor("transformer_layer_0/x") == 1.0
    with pytest.raises(ValueError, match="positive"):
        FusedAdamW(learning_rate_multipliers={"x": 0})
    with pytest.raises(ValueError, match="bad pattern"):
        FusedAdamW(learning_rate_multipliers={"(": 2.0})


def test_head_learning_rate_multipliers_name_the_head_layers():
    from tfllm.models.token_classifier import TokenClassifier
    from tfllm.training.optimizers import head_learning_rate_multipliers

    model = tiny_token_classifier()
    config = dict(model.get_config(), head="crf")
    crf_model = TokenClassifier.from_config(config)
    multipliers = head_learning_rate_multipliers(crf_model, 25.0)
    assert multipliers == {"^casing_embedding/": 25.0,
                           "^classifier_head/": 25.0, "^crf/": 25.0}
    optimizer = make_adamw(1e-4, 10, learning_rate_multipliers=multipliers)
    optimizer.build(crf_model.trainable_variables)
    factors = {v.path: optimizer._factor(v)
               for v in crf_model.trainable_variables}
    assert factors["crf/transitions"] == 25.0
    assert factors["classifier_head/kernel"] == 25.0
    assert factors["token_embedding/embeddings"] == 1.0
    with pytest.raises(ValueError, match="no backbone"):
        head_learning_rate_multipliers(model.backbone, 10.0)
    crf_model.casing_embedding.trainable = False
    crf_model.classifier_head.trainable = False
    crf_model.crf.trainable = False
    with pytest.raises(ValueError, match="outside its backbone"):
        head_learning_rate_multipliers(crf_model, 10.0)
