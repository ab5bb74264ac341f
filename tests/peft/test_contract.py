"""The contract every PEFT method passes, on a tiny TokenClassifier.

One table: output unchanged at initialisation (LoRA, AdaLoRA, adapters),
original outputs with the method disabled, only the method's weights and
the head train and a fit step changes them, `.keras` and adapter-only
round trips, export (merged for LoRA/AdaLoRA: no extra variables), and
merged outputs equal to unmerged ones within 1e-5.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.export.ner_serving import export_ner
from tfllm.peft import apply_peft
from tfllm.peft.adalora import AdaLoraConfig
from tfllm.peft.adapter import AdapterConfig
from tfllm.peft.base import get_peft_state
from tfllm.peft.lora import LoraConfig
from tfllm.peft.prefix import PrefixConfig
from tfllm.peft.prompt import PromptConfig
from tfllm.peft.saving import disabled
from tfllm.peft.saving import load_adapter
from tfllm.peft.saving import merge
from tfllm.peft.saving import merge_and_unload
from tfllm.peft.saving import save_adapter
from tfllm.peft.saving import unmerge
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import tiny_token_classifier

# method -> (config, output unchanged at initialisation, mergeable)
TABLE = {
    "lora": (LoraConfig(r=4, lora_alpha=8), True, True),
    "lora_all_linear": (LoraConfig(r=2, target_modules="all-linear"),
                        True, True),
    "adalora": (AdaLoraConfig(init_r=4, target_r=2, total_step=10), True,
                True),
    "adapter": (AdapterConfig(bottleneck_dim=8), True, False),
    "adapter_pfeiffer": (AdapterConfig(bottleneck_dim=8,
                                       placement="pfeiffer"), True, False),
    "prefix": (PrefixConfig(num_virtual_tokens=3), False, False),
    "prefix_mlp": (PrefixConfig(num_virtual_tokens=3, prefix_projection=True,
                                encoder_hidden_size=16), False, False),
    "prompt": (PromptConfig(num_virtual_tokens=3), False, False),
}
HEAD = {"classifier_head", "casing_embedding"}


def _inputs(model):
    words = tf.ragged.constant([SENTENCE_A, SENTENCE_B])
    return model.model_inputs(model.preprocessor(words))


def _perturb(model, seed=1):
    """Random non-zero PEFT weights, so the method changes outputs."""
    rng = np.random.default_rng(seed)
    for v in get_peft_state(model).peft_variables():
        v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))


def _fresh(name):
    return apply_peft(tiny_token_classifier(), TABLE[name][0],
                      verbose=False)


@pytest.fixture(params=list(TABLE))
def method(request):
    return request.param


def test_output_at_init_and_disabled(method):
    base = tiny_token_classifier()
    x = _inputs(base)
    original = base(x).numpy()
    model = apply_peft(base, TABLE[method][0], verbose=False)
    y = model(x).numpy()
    assert y.shape == original.shape
    if TABLE[method][1]:
        np.testing.assert_allclose(y, original, atol=1e-6)
    _perturb(model)
    assert np.abs(model(x).numpy() - original).max() > 1e-5
    with disabled(model):
        np.testing.assert_allclose(model(x).numpy(), original, atol=1e-6)


def test_only_method_and_head_train(method):
    model = _fresh(method)
    state = get_peft_state(model)
    expected = {id(v) for v in state.peft_variables()}
    head = [v for p, l in state.modules_to_save.items() for v in l.weights]
    assert set(state.modules_to_save) == HEAD
    expected.update(id(v) for v in head)
    assert {id(v) for v in model.trainable_weights} == expected
    frozen = [v for v in model.weights if id(v) not in expected]
    before = {id(v): v.numpy().copy() for v in model.weights}
    x = _inputs(model)
    y = np.ones(x["token_ids"].shape, "int32")
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True), run_eagerly=True)
    model.fit(x, y, epochs=2, batch_size=2, verbose=0)
    for v in model.trainable_weights:
        assert not np.array_equal(v.numpy(), before[id(v)]), v.path
    for v in frozen:
        if v.trainable is False and "ipt" not in v.name and \
                "unc" not in v.name:
            np.testing.assert_array_equal(v.numpy(), before[id(v)])


def test_save_load_round_trip(method, tmp_path):
    model = _fresh(method)
    _perturb(model)
    x = _inputs(model)
    y = model(x).numpy()
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert get_peft_state(loaded).config == TABLE[method][0]
    np.testing.assert_allclose(loaded(x).numpy(), y, atol=1e-6)
    assert len(loaded.trainable_weights) == len(model.trainable_weights)

    folder = save_adapter(model, tmp_path / "adapter", "tiny")
    adapter_bytes = sum(p.stat().st_size for p in folder.iterdir())
    model_bytes = sum(v.numpy().nbytes for v in model.weights)
    assert adapter_bytes < model_bytes / 2
    fresh = tiny_token_classifier()  # same seed: the same base weights
    load_adapter(fresh, folder, verbose=False)
    np.testing.assert_allclose(fresh(x).numpy(), y, atol=1e-6)


def test_adapter_files_are_readable_by_others(tmp_path):
    # safetensors' save_file writes mode 0600: a serving account other
    # than the trainer's could not read the adapter.
    import os
    import stat
    old = os.umask(0o022)
    try:
        folder = save_adapter(_fresh("lora"), tmp_path / "adapter")
    finally:
        os.umask(old)
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_adapter_refuses_another_base(tmp_path):
    model = _fresh("lora")
    folder = save_adapter(model, tmp_path / "adapter")
    other = tiny_token_classifier(seed=7)
    with pytest.raises(ValueError, match="another base model.*fingerprint"):
        load_adapter(other, folder, verbose=False)


@pytest.fixture(scope="module")
def plain_export_names(tmp_path_factory):
    path = export_ner(tiny_token_classifier(),
                      tmp_path_factory.mktemp("plain"))
    return [v.name for v in tf.saved_model.load(str(path)).variables]


# One variant per method: an export takes tens of seconds on 2 CPUs.
@pytest.mark.parametrize("method", ["lora", "adalora", "adapter", "prefix",
                                    "prompt"])
def test_export(method, tmp_path, plain_export_names):
    model = _fresh(method)
    _perturb(model)
    x = _inputs(model)
    y = model(x).numpy()
    words = tf.ragged.constant([SENTENCE_A, SENTENCE_B])
    expected = np.argmax(model.predict_word_logits(words).flat_values, -1)
    path = export_ner(model, tmp_path / "sm")
    np.testing.assert_array_equal(model(x).numpy(), y)  # restored exactly
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    tags = served(text=tf.constant([" ".join(SENTENCE_A),
                                    " ".join(SENTENCE_B)]))["tags"].numpy()
    got = [model.id2label.index(t.decode()) for row in tags for t in row
           if t]
    np.testing.assert_array_equal(got, expected)
    names = [v.name for v in tf.saved_model.load(str(path)).variables]
    if TABLE[method][2]:
        assert len(names) == len(plain_export_names)
        assert not [n for n in names if "lora" in n]


@pytest.mark.parametrize("name", ["lora", "lora_all_linear", "adalora"])
def test_merged_equals_unmerged(name):
    model = _fresh(name)
    _perturb(model)
    x = _inputs(model)
    y = model(x).numpy()
    kernel = next(iter(get_peft_state(model).layers.values())
                  ).base_layer.kernel
    original_kernel = kernel.numpy().copy()
    merge(model)
    assert np.abs(kernel.numpy() - original_kernel).max() > 1e-4
    np.testing.assert_allclose(model(x).numpy(), y, atol=1e-5)
    unmerge(model)
    np.testing.assert_allclose(kernel.numpy(), original_kernel, atol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), y, atol=1e-5)
    merge_and_unload(model)
    assert get_peft_state(model) is None
    assert not [v for v in model.weights if "lora" in v.path]
    np.testing.assert_allclose(model(x).numpy(), y, atol=1e-5)
