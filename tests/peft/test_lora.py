"""LoRA specifics: targets, factor shapes, configs, KerasHub decoders."""

import keras
import keras_hub
import numpy as np
import pytest

from tfllm.peft import apply_peft
from tfllm.peft.adapter import AdapterConfig
from tfllm.peft.base import walk_layers
from tfllm.peft.lora import LoraConfig
from tfllm.peft.lora import LoraLayer
from tfllm.peft.prefix import PrefixConfig
from tfllm.peft.prompt import PromptConfig
from tfllm.peft.registry import make_config
from tfllm.peft.registry import parse_options
from tfllm.peft.saving import disabled
from tiny import tiny_token_classifier

QUERY = "backbone/transformer_layer_0/self_attention_layer/query"


def test_targets_by_suffix_regex_and_all_linear():
    model = apply_peft(tiny_token_classifier(), LoraConfig(r=2),
                       verbose=False)
    paths = sorted(model.peft_state.layers)
    assert paths == sorted(
        f"backbone/transformer_layer_{i}/self_attention_layer/{n}"
        for i in (0, 1) for n in ("query", "value"))
    model = apply_peft(tiny_token_classifier(), LoraConfig(
        r=2, target_modules=r".*layer_1/.*(key|attention_output)"),
        verbose=False)
    assert sorted(p.rsplit("/", 1)[1] for p in model.peft_state.layers) == [
        "attention_output", "key"]
    model = apply_peft(tiny_token_classifier(),
                       LoraConfig(r=2, target_modules="all-linear"),
                       verbose=False)
    assert len(model.peft_state.layers) == 12  # 6 per layer, no head


def test_no_match_lists_candidates():
    with pytest.raises(ValueError) as error:
        apply_peft(tiny_token_classifier(),
                   LoraConfig(target_modules=["querry"]), verbose=False)
    assert "matches no layer; candidates:" in str(error.value)
    assert QUERY in str(error.value)
    assert "classifier_head" not in str(error.value)


def test_one_method_per_model():
    model = apply_peft(tiny_token_classifier(), "lora", verbose=False)
    with pytest.raises(ValueError, match="already has PEFT method 'lora'"):
        apply_peft(model, "adapter", verbose=False)


def test_factor_shapes_and_scale():
    model = apply_peft(tiny_token_classifier(), LoraConfig(
        r=4, lora_alpha=32, target_modules=["query", "attention_output",
                                            "feedforward_intermediate_dense"]),
        verbose=False)
    layers = model.peft_state.layers
    query = layers[QUERY]
    # Whole-projection factors, not per head: [hidden, r] and [r, heads, dim]
    assert tuple(query.lora_A.shape) == (32, 4)
    assert tuple(query.lora_B.shape) == (4, 2, 16)
    output = layers[QUERY.replace("query", "attention_output")]
    assert tuple(output.lora_A.shape) == (2, 16, 4)
    assert tuple(output.lora_B.shape) == (4, 32)
    assert query.scale == 8.0
    # The activation of the feed-forward layer stays after the update.
    ffn = layers["backbone/transformer_layer_0/feedforward_intermediate_dense"]
    rng = np.random.default_rng(0)
    ffn.lora_B.assign(rng.normal(size=ffn.lora_B.shape).astype("float32"))
    x = rng.normal(size=(2, 3, 32)).astype("float32")
    base = ffn.base_layer
    expected = base.activation(
        x @ (base.kernel.numpy() + ffn.delta_weight().numpy())
        + base.bias.numpy())
    np.testing.assert_allclose(ffn(x).numpy(), expected, rtol=1e-5,
                               atol=1e-5)


def test_layer_config_round_trip():
    dense = keras.layers.Dense(6, activation="relu")
    dense.build((None, 4))
    layer = LoraLayer(dense, r=2, lora_alpha=4, lora_dropout=0.1)
    clone = LoraLayer.from_config(layer.get_config())
    assert (clone.r, clone.lora_alpha, clone.lora_dropout) == (2, 4.0, 0.1)
    assert clone.base_layer.units == 6
    assert make_config("lora", LoraConfig(r=3).to_dict()) == LoraConfig(r=3)


def test_parse_options():
    assert parse_options("r=16,lora_alpha=32.5,target_modules=query+key,"
                         "prefix_projection=true,placement=pfeiffer") == {
        "r": 16, "lora_alpha": 32.5, "target_modules": ["query", "key"],
        "prefix_projection": True, "placement": "pfeiffer"}
    assert parse_options('{"r": 2}') == {"r": 2}
    with pytest.raises(ValueError, match="expected key=value"):
        parse_options("r")


def _gpt2():
    keras.utils.set_random_seed(0)
    return keras_hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16)


def _llama():
    keras.utils.set_random_seed(0)
    return keras_hub.models.LlamaBackbone(
        vocabulary_size=50, num_layers=2, num_query_heads=4,
        num_key_value_heads=2, hidden_dim=16, intermediate_dim=32)


DECODER_INPUTS = {
    "token_ids": np.array([[5, 7, 9, 11, 0], [3, 4, 0, 0, 0]], "int32"),
    "padding_mask": np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], "int32"),
}


@pytest.mark.parametrize("make", [_gpt2, _llama], ids=["gpt2", "llama"])
@pytest.mark.parametrize("config", [
    LoraConfig(r=2, target_modules="all-linear"),
    AdapterConfig(bottleneck_dim=4),
    PrefixConfig(num_virtual_tokens=2),
    PromptConfig(num_virtual_tokens=2),
], ids=["lora", "adapter", "prefix", "prompt"])
def test_kerashub_decoders(make, config):
    backbone = make()
    x = DECODER_INPUTS
    original = backbone(x)
    model = apply_peft(backbone, config, verbose=False)
    assert not model.peft_state.modules_to_save  # a bare backbone
    for v in model.peft_state.peft_variables():
        v.assign(np.random.default_rng(1).normal(
            0, 0.3, v.shape).astype("float32"))
    y = model(x)
    assert y.shape == original.shape
    assert np.abs(y - original).max() > 1e-4
    # Causal: changing the last real token leaves earlier outputs alone.
    x2 = dict(x, token_ids=x["token_ids"].copy())
    x2["token_ids"][0, 3] = 13
    np.testing.assert_allclose(model(x2)[0, :3], y[0, :3], atol=1e-5)
    with disabled(model):
        np.testing.assert_allclose(model(x), original, atol=1e-5)
    # A fit step trains only the method's weights.
    trainable = {id(v) for v in model.trainable_weights}
    assert trainable == {id(v) for v in model.peft_state.peft_variables()}


def test_paths_are_stable_across_models():
    # Layers with weights have fixed names (Keras numbers the others).
    def paths():
        return [p for p, layer, *_ in walk_layers(tiny_token_classifier())
                if layer._trainable_variables]

    first = paths()
    assert first == paths() and QUERY in first


@pytest.mark.parametrize("config", [
    PrefixConfig(num_virtual_tokens=3),
    PrefixConfig(num_virtual_tokens=3, prefix_projection=True,
                 encoder_hidden_size=8),
    PromptConfig(num_virtual_tokens=3, prompt_tuning_init="random"),
], ids=["prefix", "prefix_mlp", "prompt"])
def test_masks_extended_for_padding(config):
    """Extra padding changes nothing: the prefix/prompt columns are open
    and the padding columns stay closed."""
    model = apply_peft(tiny_token_classifier(), config, verbose=False)
    for v in model.peft_state.peft_variables():
        v.assign(np.random.default_rng(2).normal(0, 0.5, v.shape))
    ids = np.array([[2, 8, 23, 13, 14, 3]], "int32")

    def run(pad):
        x = {"token_ids": np.pad(ids, ((0, 0), (0, pad))),
             "padding_mask": np.pad(np.ones_like(ids), ((0, 0), (0, pad))),
             "segment_ids": np.zeros((1, 6 + pad), "int32"),
             "casing_ids": np.zeros((1, 6 + pad), "int32")}
        return model(x).numpy()[:, :6]

    np.testing.assert_allclose(run(0), run(5), atol=1e-5)


def test_kerashub_causal_lm_lora_fit_and_adapter(tmp_path):
    """A KerasHub CausalLM (its own train_step) takes LoRA as it is."""
    from tfllm.peft.saving import load_adapter
    from tfllm.peft.saving import save_adapter

    def causal_lm():
        return keras_hub.models.LlamaCausalLM(backbone=_llama(),
                                              preprocessor=None)

    lm = apply_peft(causal_lm(), LoraConfig(r=2), verbose=False)
    assert sorted(lm.peft_state.layers)[0] == (
        "backbone/transformer_layer_0/self_attention/query")
    assert not lm.peft_state.modules_to_save  # tied embeddings: no head
    lm.compile(optimizer=keras.optimizers.Adam(1e-2),
               loss=keras.losses.SparseCategoricalCrossentropy(
                   from_logits=True), run_eagerly=True)
    x = {"token_ids": np.array([[1, 5, 7, 9, 2, 0]] * 2, "int32"),
         "padding_mask": np.array([[1, 1, 1, 1, 1, 0]] * 2, "int32")}
    history = lm.fit(x, np.roll(x["token_ids"], -1, 1),
                     sample_weight=x["padding_mask"], epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    folder = save_adapter(lm, tmp_path / "adapter", "tiny-llama")
    fresh = load_adapter(causal_lm(), folder, verbose=False)
    np.testing.assert_allclose(fresh(x), lm(x), atol=1e-5)
