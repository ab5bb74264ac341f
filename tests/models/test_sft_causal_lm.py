import keras
import numpy as np
import pytest

from tiny_lm import br15_causal_lm

from tfllm.data.pipeline import make_dataset
from tfllm.data.prompt_response import PromptResponse
from tfllm.generation import GenerationConfig
from tfllm.generation import generate
from tfllm.models.sft_causal_lm import SFTCausalLM
from tfllm.models.sft_causal_lm import evaluate_responses
from tfllm.models.sft_causal_lm import keras_hub_causal_lm_class
from tfllm.models.sft_causal_lm import response_loss
from tfllm.training.trainer import TrainingConfig
from tfllm.training.trainer import train

EXAMPLES = [PromptResponse("hello", " world"),
            PromptResponse("world", " hello hello")]


@pytest.fixture
def model(tmp_path):
    from tfllm.checkpoints.gguf import load_gguf_backbone
    from tfllm.preprocessing.prompt_response_preprocessor import (
        PromptResponsePreprocessor,
    )
    from tiny_lm import tiny_llama_backbone
    from tiny_lm import write_tiny_gguf

    path = write_tiny_gguf(tmp_path / "tiny.gguf", tiny_llama_backbone())
    backbone, tokenizer = load_gguf_backbone(path)
    return SFTCausalLM(backbone, PromptResponsePreprocessor(tokenizer, 32))


def _manual_response_loss(model, features, labels, weights):
    logits = np.asarray(model(features)).astype("float64")
    logits -= logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, np.asarray(labels)[..., None],
                              -1)[..., 0]
    weights = np.asarray(weights)
    return float((nll * weights).sum() / weights.sum())


def test_training_loss_is_the_mean_over_response_tokens_only(model):
    encoded, _ = model.preprocessor.encode(EXAMPLES)
    model.compile(loss=response_loss())
    features, labels, weights = next(iter(make_dataset(
        encoded, 2, 32, accumulation_steps=1)))
    loss = float(model.compute_loss(
        x=features, y=labels, y_pred=model(features), sample_weight=weights))
    raw_weights = encoded.sample_weight.to_tensor()
    expected = _manual_response_loss(model, features, labels, raw_weights)
    assert loss == pytest.approx(expected, rel=1e-4)
    assert evaluate_responses(model, encoded)["loss"] == pytest.approx(
        expected, rel=1e-4)
    # Prompt labels carry no weight: changing them leaves the loss alone.
    response = np.asarray(raw_weights) > 0
    scrambled = np.where(response, np.asarray(labels), 7)
    assert float(model.compute_loss(
        x=features, y=scrambled, y_pred=model(features),
        sample_weight=weights)) == pytest.approx(loss, rel=1e-6)


def test_fine_tuning_learns_the_responses_and_saves(model, tmp_path):
    encoded, _ = model.preprocessor.encode(EXAMPLES)
    before = evaluate_responses(model, encoded)["loss"]
    config = TrainingConfig(epochs=8, batch_size=2, learning_rate=1e-2,
                            warmup_ratio=0.0, checkpoint_every_steps=0)
    model, history = train(
        model, encoded, config, tmp_path / "run",
        lambda m: (evaluate_responses(m, encoded), {}), "token_accuracy",
        response_loss())
    after = evaluate_responses(model, encoded)
    assert after["loss"] < before - 1.0
    assert len(history) == 8
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.preprocessor.tokenizer.chat_template.startswith("{% for")
    assert evaluate_responses(loaded, encoded)["loss"] == pytest.approx(
        after["loss"], rel=1e-5)
    prompts = loaded.preprocessor.prompt_ids(["hello"])
    assert generate(loaded.causal_lm(), prompts,
                    GenerationConfig(max_new_tokens=4)) == generate(
        model.causal_lm(), prompts, GenerationConfig(max_new_tokens=4))


def test_causal_lm_shares_the_backbone_of_any_keras_hub_decoder():
    gpt2 = br15_causal_lm()
    model = SFTCausalLM(gpt2.backbone)
    assert keras_hub_causal_lm_class(gpt2.backbone).__name__ == "GPT2CausalLM"
    assert model.causal_lm().backbone is gpt2.backbone
    # Same weights, so the same greedy continuation as outside case BR-15.
    assert generate(model.causal_lm(), [[5, 6, 7]],
                    GenerationConfig(max_new_tokens=7)) == [
        [16, 9, 3, 18, 18, 18, 27]]
    with pytest.raises(ValueError, match="no causal LM"):
        keras_hub_causal_lm_class(object())


def test_export_to_litert_generates_what_the_model_generates(model,
                                                             tmp_path):
    """`CausalLM.export(folder, format="litert")`: the bundle's greedy text
    equals the Keras model's, with the prompt format it was built with."""
    from tfllm.generation.litert_text import LiteRTGenerator

    settings = model.export(tmp_path / "bundle", recipes=("fp32",),
                            max_length=64, prefill_lengths=(8,))
    assert settings["use_chat_template"] is True
    generator = LiteRTGenerator(tmp_path / "bundle", num_threads=1)
    assert generator.generate(["hello"], max_new_tokens=5) == \
        model.generate(["hello"], max_new_tokens=5)
    with pytest.raises(ValueError, match="format"):
        model.export(tmp_path / "b2", format="onnx")
