"""A merged LoRA/AdaLoRA model saved whole reloads merged (issue 27, defect 4).

`merge` folds `ΔW` into the base kernels; the saved weights then hold
`W + ΔW`. Before the fix, `model.keras` did not say the layers were merged,
so the reloaded model added `ΔW` again in its branch: outputs silently wrong.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.peft import apply_peft
from tfllm.peft.adalora import AdaLoraConfig
from tfllm.peft.base import get_peft_state
from tfllm.peft.lora import LoraConfig
from tfllm.peft.saving import merge
from tfllm.peft.saving import merge_and_unload
from tfllm.peft.saving import save_adapter
from tfllm.peft.saving import unmerge
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import tiny_token_classifier

# Every method whose layers have merge/unmerge.
MERGEABLE = {
    "lora": LoraConfig(r=4, lora_alpha=8),
    "lora_all_linear": LoraConfig(r=2, target_modules="all-linear"),
    "adalora": AdaLoraConfig(init_r=4, target_r=2, total_step=10),
}


def _inputs(model):
    words = tf.ragged.constant([SENTENCE_A, SENTENCE_B])
    return model.model_inputs(model.preprocessor(words))


def _perturb(model, seed=1):
    """Random non-zero factors, so `ΔW` changes the outputs."""
    rng = np.random.default_rng(seed)
    for v in get_peft_state(model).peft_variables():
        v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))


def _layers(model):
    return list(get_peft_state(model).layers.values())


def _double_applied(model, x):
    """Outputs of a merged model that also runs its branch (the defect)."""
    layers = _layers(model)
    for layer in layers:
        layer.merged = False
    try:
        return model(x).numpy()
    finally:
        for layer in layers:
            layer.merged = True


@pytest.fixture(scope="module", params=list(MERGEABLE))
def merged(request, tmp_path_factory):
    """(name, merged model, inputs, unmerged outputs, merged outputs, file)."""
    model = apply_peft(tiny_token_classifier(), MERGEABLE[request.param],
                       verbose=False)
    _perturb(model)
    x = _inputs(model)
    unmerged_y = model(x).numpy()
    merge(model)
    merged_y = model(x).numpy()
    path = tmp_path_factory.mktemp(request.param) / "model.keras"
    model.save(path)
    return request.param, model, x, unmerged_y, merged_y, path


def test_merged_model_keras_reloads_merged(merged):
    name, model, x, _, merged_y, path = merged
    double = _double_applied(model, x)
    # The test tells the defect apart: applying ΔW twice changes outputs.
    assert np.abs(double - merged_y).max() > 1e-3
    loaded = keras.models.load_model(path)
    assert get_peft_state(loaded).config == MERGEABLE[name]
    y = loaded(x).numpy()
    np.testing.assert_allclose(y, merged_y, atol=1e-6)
    assert np.abs(y - double).max() > 1e-3
    assert all(layer.merged for layer in _layers(loaded))


def test_unmerge_and_unload_after_reload(merged):
    _, model, x, unmerged_y, merged_y, path = merged
    loaded = keras.models.load_model(path)
    original = {id(l): l.base_layer.kernel.numpy() for l in _layers(loaded)}
    unmerge(loaded)
    assert not any(layer.merged for layer in _layers(loaded))
    np.testing.assert_allclose(loaded(x).numpy(), unmerged_y, atol=1e-5)
    for layer in _layers(loaded):  # the kernels lost ΔW again
        assert np.abs(layer.base_layer.kernel.numpy()
                      - original[id(layer)]).max() > 1e-4
    # Unmerged, the reloaded model gives the adapter-only files again.
    save_adapter(loaded, path.parent / "adapter", "tiny")
    merge_and_unload(loaded)
    assert get_peft_state(loaded) is None
    np.testing.assert_allclose(loaded(x).numpy(), merged_y, atol=1e-5)


def test_weights_file_carries_the_merged_state(merged, tmp_path):
    name, model, x, unmerged_y, merged_y, _ = merged
    model.save_weights(tmp_path / "merged.weights.h5")
    fresh = apply_peft(tiny_token_classifier(), MERGEABLE[name],
                       verbose=False)
    fresh.load_weights(tmp_path / "merged.weights.h5")
    np.testing.assert_allclose(fresh(x).numpy(), merged_y, atol=1e-6)
    assert all(layer.merged for layer in _layers(fresh))
    # And back: unmerged weights loaded into a merged model unmerge it.
    unmerge(fresh)
    fresh.save_weights(tmp_path / "unmerged.weights.h5")
    again = apply_peft(tiny_token_classifier(), MERGEABLE[name],
                       verbose=False)
    merge(again)
    again.load_weights(tmp_path / "unmerged.weights.h5")
    np.testing.assert_allclose(again(x).numpy(), unmerged_y, atol=1e-5)
    assert not any(layer.merged for layer in _layers(again))


def test_the_table_holds_every_method_that_merges():
    """A new method with merge/unmerge must join MERGEABLE above."""
    from tfllm.peft.registry import METHODS

    merging = set()
    for method in METHODS:
        model = apply_peft(tiny_token_classifier(), method, verbose=False)
        if any(hasattr(layer, "merge") for layer in _layers(model)):
            merging.add(method)
    assert merging == {config.method for config in MERGEABLE.values()}
