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
