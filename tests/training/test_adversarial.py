"""FGM and PGD on the word embeddings (issue 29: training strategies)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.training import adversarial
from tfllm.training.adversarial import AdversarialSettings
from tfllm.training.adversarial import fgm_loss
from tfllm.training.adversarial import fgm_perturbation
from tfllm.training.adversarial import token_embedding_variable
from tfllm.training.steps import train_step
from tiny import tiny_token_classifier


def test_fgm_perturbation_hand_case():
    g = tf.constant([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(fgm_perturbation(g, 1.0), [[0.6, 0.8], [0, 0]])
    np.testing.assert_allclose(fgm_perturbation(g * 1e4, 2.0),
                               [[1.2, 1.6], [0, 0]], rtol=1e-6)
    # A zero or overflowed (loss-scaled) gradient gives no perturbation.
    assert not np.any(fgm_perturbation(tf.zeros((2, 2)), 1.0))
    assert not np.any(fgm_perturbation(g * np.inf, 1.0))
    delta = tf.constant([3.0, 4.0])
    np.testing.assert_allclose(adversarial._project(delta, 1.0), [0.6, 0.8])
    np.testing.assert_allclose(adversarial._project(delta, 10.0), [3, 4])


def test_settings_are_checked():
    from tfllm.training.trainer import TrainingConfig
    from tfllm.training.trainer import strategy_settings

    assert strategy_settings(TrainingConfig()) is None
    assert strategy_settings(TrainingConfig(adversarial="fgm")) == (
        AdversarialSettings("fgm", 1.0, 3, 0.3))
    with pytest.raises(ValueError, match="rdrop_alpha must be >= 0"):
        strategy_settings(TrainingConfig(rdrop_alpha=-1.0))
    with pytest.raises(ValueError, match="adversarial must be one of"):
        AdversarialSettings("fast")
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        AdversarialSettings("fgm", epsilon=0.0)
    with pytest.raises(ValueError, match="pgd_steps >= 1"):
        AdversarialSettings("pgd", pgd_steps=0)


def compiled_model(head="softmax"):
    keras.utils.set_random_seed(0)
    model = tiny_token_classifier(seed=0)
    if head == "crf":
        from tfllm.models.token_classifier import TokenClassifier

        model = TokenClassifier(model.backbone, model.id2label,
                                preprocessor=model.preprocessor,
                                dropout=0.0, head="crf")
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=model.training_loss("sum"))
    return model


def batch():
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(5, 20, (2, 6)).astype("int32"),
         "padding_mask": np.ones((2, 6), "int32"),
         "segment_ids": np.zeros((2, 6), "int32"),
         "casing_ids": np.zeros((2, 6), "int32")}
    x["padding_mask"][1, 4:] = 0
    y = rng.integers(0, 7, (2, 6)).astype("int32")
    w = x["padding_mask"].astype("float32") / 10.0
    return x, y, w


def snapshot(model):
    return {v.path: np.array(v) for v in model.variables}


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_fgm_perturbs_only_the_embeddings_and_restores_them(head):
    model = compiled_model(head)
    x, y, w = batch()
    embedding = token_embedding_variable(model)
    assert embedding.path.endswith("token_embedding/embeddings")
    before = snapshot(model)
    # The clean gradient of the embedding matrix, by hand.
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x), sample_weight=w)
    g = tf.convert_to_tensor(tape.gradient(loss, embedding))
    expected_r = 0.7 * g.numpy() / np.linalg.norm(g.numpy())
    seen = []
    compute_loss = model.compute_loss

    def spy(**kwargs):  # records every variable during the perturbed pass
        seen.append(snapshot(model))
        return compute_loss(**kwargs)

    model.compute_loss = spy
    settings = AdversarialSettings("fgm", epsilon=0.7)
    grads = adversarial.adversarial_gradients(
        model, x, y, w, embedding, g, model.trainable_variables, settings)
    assert len(seen) == 1 and len(grads) == len(model.trainable_variables)
    during = seen[0]
    for path, value in before.items():
        if path == embedding.path:
            np.testing.assert_allclose(during[path] - value, expected_r,
                                       atol=1e-6)
            assert np.linalg.norm(during[path] - value) == pytest.approx(
                0.7, rel=1e-5)
        else:
            np.testing.assert_array_equal(during[path], value, err_msg=path)
    after = snapshot(model)
    for path, value in before.items():  # bit for bit
        assert after[path].tobytes() == value.tobytes(), path


def test_pgd_stays_in_the_ball_and_runs_k_passes():
    model = compiled_model()
    x, y, w = batch()
    embedding = token_embedding_variable(model)
    start = np.array(embedding)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x), sample_weight=w)
    g = tape.gradient(loss, embedding)
    norms = []
    compute_loss = model.compute_loss

    def spy(**kwargs):
        norms.append(np.linalg.norm(np.array(embedding) - start))
        return compute_loss(**kwargs)

    model.compute_loss = spy
    settings = AdversarialSettings("pgd", epsilon=0.5, pgd_steps=3,
                                   pgd_alpha=0.3)
    adversarial.adversarial_gradients(model, x, y, w, embedding, g,
                                      model.trainable_variables, settings)
    # Steps of 0.3, projected onto the ball of radius 0.5.
    assert len(norms) == 3
    assert norms[0] == pytest.approx(0.3, rel=1e-4)
    assert max(norms) <= 0.5 + 1e-5 and norms[-1] > 0.3
    assert np.array(embedding).tobytes() == start.tobytes()


def test_fgm_step_applies_clean_plus_adversarial_gradients():
    """One SGD step: w1 = w0 - lr (g_clean + g_adversarial), where g_adv is
    taken with the embedding moved by eps g / ||g|| by hand."""
    model = compiled_model()
    x, y, w = batch()
    embedding = token_embedding_variable(model)
    variables = model.trainable_variables
    w0 = [np.array(v) for v in variables]

    def grads():
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x),
                                      sample_weight=w)
        return [tf.convert_to_tensor(g).numpy() if g is not None else None
                for g in tape.gradient(loss, variables)]

    clean = grads()
    index = [v is embedding for v in variables].index(True)
    g = clean[index]
    embedding.assign(w0[index] + 1.5 * g / np.linalg.norm(g))
    perturbed = grads()
    embedding.assign(w0[index])
    model.adversarial = AdversarialSettings("fgm", epsilon=1.5)
    train_step(model, (x, y, w))
    for v, start, a, b in zip(variables, w0, clean, perturbed):
        if a is None:
            continue
        np.testing.assert_allclose(np.array(v), start - 0.5 * (a + b),
                                   atol=2e-6, err_msg=v.path)


def test_fgm_loss_for_robustness_checks():
    model = tiny_token_classifier(seed=0)
    x, y, w = batch()
    before = snapshot(model)
    loss_fn = model.training_loss("sum_over_batch_size")
    clean = float(loss_fn(y, model(x), sample_weight=w))
    loss, logits = fgm_loss(model, x, y, w, epsilon=0.1)
    assert logits.shape == (2, 6, 7)
    assert float(loss) > clean  # FGM raises the loss (first order)
    after = snapshot(model)
    assert all(after[p].tobytes() == v.tobytes() for p, v in before.items())
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        fgm_loss(model, x, y, w, epsilon=0)



def test_models_with_their_own_step_refuse_the_strategies():
    from tfllm.training.steps import refuse_strategies

    model = keras.Model()
    refuse_strategies(model, "x")  # nothing set: fine
    model.rdrop_alpha = 0.5
    with pytest.raises(ValueError, match="two-tower .* without adversarial"):
        refuse_strategies(model, "two-tower retrieval training")
    model.rdrop_alpha, model.adversarial = 0.0, AdversarialSettings("fgm")
    with pytest.raises(ValueError, match="--adversarial none"):
        refuse_strategies(model, "contrastive (MNRL) training")
