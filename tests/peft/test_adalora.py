"""AdaLoRA: the budget schedule, importance scores, pruning, logging."""

import json

import keras
import numpy as np
import pytest

from tfllm.peft import apply_peft
from tfllm.peft.adalora import AdaLoraConfig
from tfllm.peft.adalora import budget_schedule
from tfllm.peft.registry import training_callbacks
from tiny import tiny_token_classifier
from training.test_callbacks import summary_tags


def test_budget_schedule():
    # init 48 (12 x 4 layers) to target 32 (8 x 4), tinit 10, tfinal 20,
    # 100 steps, allocation every 5: PEFT's RankAllocator.budget_schedule.
    def at(step):
        return budget_schedule(step, 48, 32, 10, 20, 100, 5)

    assert at(0) == (48, False)
    assert at(10) == (48, False)
    assert at(11) == (47, False)  # 16 * (1 - 1/70)^3 + 32 = 47.32
    assert at(15) == (44, True)   # 16 * (1 - 5/70)^3 + 32 = 44.81
    assert at(45) == (34, True)   # 16 * 0.5^3 + 32
    assert at(80) == (32, True)
    assert at(81) == (32, True)   # final phase: every step
    budgets = [at(s)[0] for s in range(101)]
    assert budgets == sorted(budgets, reverse=True)
    with pytest.raises(ValueError, match="must exceed tinit"):
        budget_schedule(5, 48, 32, 10, 20, 30, 5)


def _batch():
    x = {"token_ids": np.array([[2, 5, 6, 7, 3, 0]] * 4),
         "padding_mask": np.array([[1, 1, 1, 1, 1, 0]] * 4),
         "segment_ids": np.zeros((4, 6), "int32"),
         "casing_ids": np.zeros((4, 6), "int32")}
    return x, np.ones((4, 6), "int32")


def test_pruning_reaches_target_budget_and_logs(tmp_path):
    model = apply_peft(tiny_token_classifier(), AdaLoraConfig(
        init_r=4, target_r=2, tinit=2, tfinal=3, total_step=12),
        verbose=False)
    state = model.peft_state
    x, y = _batch()
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    model(x, training=True)
    assert len(model.losses) == 4  # the orthogonality regulariser
    callbacks = training_callbacks(model, 999, tmp_path)
    assert callbacks[0].total_step == 12  # the config's value wins
    callbacks[0].log_every = 1
    model.fit(x, y, epochs=12, verbose=0, callbacks=callbacks)
    ranks = {p: layer.rank() for p, layer in state.layers.items()}
    assert sum(ranks.values()) == 2 * 4
    layer = next(iter(state.layers.values()))
    ipt, unc = layer.scores["lora_E"]
    assert np.all(ipt.numpy() >= 0) and ipt.numpy().max() > 0
    assert unc.numpy().max() > 0
    # The final phase fixed the pattern in the masks (masked values may
    # move in the optimizer, but their singular value stays 0).
    for layer in state.layers.values():
        mask = layer.rank_mask.numpy()
        assert mask.sum() == layer.rank()
        np.testing.assert_array_equal(
            mask, (layer.lora_E.numpy() * mask) != 0)
    saved = json.loads((tmp_path / "adalora_rank_pattern.json").read_text())
    assert saved == ranks
    tags = summary_tags(tmp_path / "adalora")
    assert tags["total_rank"] >= 12 and tags["budget"] >= 12
    assert any(t.startswith("rank/backbone/transformer_layer_0") for t in
               tags)


def test_importance_needs_gradients():
    model = apply_peft(tiny_token_classifier(), AdaLoraConfig(
        init_r=2, target_r=1, total_step=10), verbose=False)
    layer = next(iter(model.peft_state.layers.values()))
    layer.lora_E.assign([0.5, -1.0])
    layer.update_importance({"lora_E": np.array([2.0, 1.0], "float32")})
    # |w * g| = [1, 1]; EMA with beta1 0.85: 0.15; uncertainty 0.15 * 0.85
    np.testing.assert_allclose(layer.scores["lora_E"][0].numpy(),
                               [0.15, 0.15], rtol=1e-6)
    np.testing.assert_allclose(layer.scores["lora_E"][1].numpy(),
                               [0.15 * 0.85, 0.15 * 0.85], rtol=1e-6)


def test_bad_ranks():
    with pytest.raises(ValueError, match="target_r <= init_r"):
        AdaLoraConfig(init_r=4, target_r=6)


def test_mixed_bfloat16_training_call():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = apply_peft(tiny_token_classifier(), AdaLoraConfig(
            init_r=2, target_r=1, total_step=10), verbose=False)
        x, _ = _batch()
        y = model(x, training=True)
        dtype = keras.backend.standardize_dtype
        assert dtype(y.dtype) == "float32"  # the head stays float32
        assert [dtype(loss.dtype) for loss in model.losses] == [
            "float32"] * 4
    finally:
        keras.mixed_precision.set_global_policy("float32")
