"""Supervised fine-tuning of a causal LM, with generation from the result."""

import weakref

import keras
import numpy as np
import tensorflow as tf

# Imported so that `keras.models.load_model` finds the classes a saved
# SFT model names (its preprocessor and the GGUF chat tokenizer).
import tfllm.generation.chat_tokenizer  # noqa: F401
import tfllm.preprocessing.prompt_response_preprocessor  # noqa: F401
from tfllm.models.task import Task

_GENERATORS = weakref.WeakKeyDictionary()


def keras_hub_causal_lm_class(backbone):
    """The KerasHub `CausalLM` class whose `backbone_cls` is the backbone's.

    Args:
        backbone: a KerasHub decoder backbone (`Llama3Backbone`,
            `GPT2Backbone`, ...).

    Returns:
        A `keras_hub.models.CausalLM` subclass.

    Raises:
        ValueError: KerasHub has no causal LM for this backbone.
    """
    import keras_hub

    pending = [keras_hub.models.CausalLM]
    while pending:
        cls = pending.pop()
        if getattr(cls, "backbone_cls", None) is type(backbone):
            return cls
        pending.extend(cls.__subclasses__())
    raise ValueError(
        f"KerasHub has no causal LM for {type(backbone).__name__}")


@keras.saving.register_keras_serializable(package="tfllm")
class SFTCausalLM(Task):
    """A decoder backbone with its tied LM head, for supervised fine-tuning.

    The logits are the backbone's `sequence_output` projected on the
    (reverse) token embedding, as in KerasHub's causal LMs. Training uses the
    shared `Task.train_step`; with `tfllm.training.train` and the weights of
    `PromptResponsePreprocessor.encode` (1 on response tokens, 0 on prompt
    and padding), the loss is the mean cross-entropy over response tokens
    only.

    For generation, `causal_lm()` returns the matching KerasHub `CausalLM`
    (`call_with_cache`, KV cache) on the same backbone, so fine-tuned weights
    are used without copying.

    Args:
        backbone: a KerasHub decoder backbone whose `token_embedding` is a
            `ReversibleEmbedding` (GPT-2, Llama, Mistral, ...).
        preprocessor: `PromptResponsePreprocessor` or None. Travels with the
            saved model (tokenizer, chat template, sequence length).

    Inputs:
        dict of int32 `token_ids` and `padding_mask`,
        `[batch_size, sequence_length]`.

    Returns:
        float32 logits `[batch_size, sequence_length, vocabulary_size]`.

    Examples:
    ```python
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32)
    model = SFTCausalLM(backbone)
    generate(model.causal_lm(), [[5, 6, 7]])
    ```
    """

    def __init__(self, backbone, preprocessor=None, **kwargs):
        kwargs.pop("id2label", None)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "padding_mask")
        }
        hidden = backbone(inputs)
        if isinstance(hidden, dict):
            hidden = hidden["sequence_output"]
        logits = backbone.token_embedding(hidden, reverse=True)
        logits = keras.ops.cast(logits, "float32")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.id2label = None

    def causal_lm(self):
        """The KerasHub `CausalLM` sharing this model's backbone (cached)."""
        if self not in _GENERATORS:
            cls = keras_hub_causal_lm_class(self.backbone)
            _GENERATORS[self] = cls(self.backbone, preprocessor=None)
        return _GENERATORS[self]

    def get_config(self):
        config = super().get_config()
        config.pop("id2label")
        return config


def response_loss():
    """Token cross-entropy for `tfllm.training.train` (sum of weighted)."""
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")


def evaluate_responses(model, encoded, batch_size=8):
    """Mean loss, perplexity and accuracy over response tokens.

    Args:
        model: `SFTCausalLM`.
        encoded: `EncodedWindows` from `PromptResponsePreprocessor.encode`.
        batch_size: int.

    Returns:
        dict: `loss` (mean cross-entropy per response token, nats),
        `perplexity` (`exp(loss)`), `token_accuracy` (share of response
        tokens whose argmax prediction is right), `response_tokens`.
    """
    from tfllm.data.pipeline import make_dataset

    dataset = make_dataset(encoded, batch_size,
                           model.preprocessor.sequence_length
                           if model.preprocessor else 1 << 30)
    total_loss = total_correct = total_weight = 0.0
    for features, labels, weights in dataset:
        logits = model(features, training=False)
        losses = tf.keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True)
        correct = tf.cast(tf.equal(
            tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        total_loss += float(tf.reduce_sum(losses * weights))
        total_correct += float(tf.reduce_sum(correct * weights))
        total_weight += float(tf.reduce_sum(weights))
    loss = total_loss / max(total_weight, 1.0)
    return {"loss": loss, "perplexity": float(np.exp(min(loss, 50.0))),
            "token_accuracy": total_correct / max(total_weight, 1.0),
            "response_tokens": int(total_weight)}
