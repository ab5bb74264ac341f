"""Prompt tuning: trainable soft-prompt vectors in front of the input.

Lester et al. (2021), "The Power of Scale for Parameter-Efficient Prompt
Tuning". `num_virtual_tokens` vectors are prepended to the embedded input
of the first transformer layer and pass through every layer with the
sequence; the padding mask of every layer gains as many open positions,
and the last layer drops them again, so the backbone's `sequence_output`
keeps its length and a token-classification head still sees one vector
per sub-token. The prompt starts as the embeddings of randomly drawn
vocabulary tokens (the paper's best initialisation), passed through the
backbone's embedding layer norm when it has one (BERT).

The hook overrides `call` of each KerasHub transformer layer instance
(`TransformerEncoder`, `TransformerDecoder`, `LlamaTransformerDecoder`):
they are nodes of the backbone's functional graph, which cannot be
re-wired, and only their masks and sequence length change. Cached
generation is not supported with a prompt.
"""

import dataclasses
from typing import Optional
from typing import Sequence

import keras
import numpy as np
from keras import ops

from tfllm.peft import base

MASK_ARGUMENTS = ("padding_mask", "decoder_padding_mask")


@dataclasses.dataclass
class PromptConfig(base.PeftConfig):
    """Settings of prompt tuning (names as in Hugging Face PEFT).

    Attributes:
        num_virtual_tokens: int. Soft-prompt length. Defaults to 20.
        prompt_tuning_init: str. `"vocab"` (embeddings of random vocabulary
            tokens) or `"random"` (normal, std 0.02).
        seed: int. Seed of the token draw.
        modules_to_save: as in `LoraConfig`.
    """

    method = "prompt"

    num_virtual_tokens: int = 20
    prompt_tuning_init: str = "vocab"
    seed: int = 0
    modules_to_save: Optional[Sequence[str]] = None

    def __post_init__(self):
        if self.prompt_tuning_init not in ("vocab", "random"):
            raise ValueError("prompt_tuning_init must be 'vocab' or "
                             f"'random', got {self.prompt_tuning_init!r}")


class SoftPrompt(keras.layers.Layer):
    """The soft prompt `[num_virtual_tokens, hidden_dim]`.

    Args:
        num_virtual_tokens: int.
        hidden_dim: int.
        initial_value: numpy array of that shape, or None (normal 0.02).
    """

    def __init__(self, num_virtual_tokens, hidden_dim, initial_value=None,
                 **kwargs):
        kwargs.setdefault("name", "soft_prompt")
        super().__init__(**kwargs)
        self.num_virtual_tokens = num_virtual_tokens
        initializer = keras.initializers.RandomNormal(stddev=0.02)
        if initial_value is not None:
            initializer = keras.initializers.Constant(initial_value)
        self.embeddings = self.add_weight(
            name="embeddings", shape=(num_virtual_tokens, hidden_dim),
            initializer=initializer)
        self.enabled = True
        self.built = True

    @property
    def peft_variables(self):
        return [self.embeddings]


def _with_prompt(prompt, original, first, last):
    """A transformer layer's `call` on `[prompt; sequence]`."""

    def call(inputs, *args, **kwargs):
        if not prompt.enabled:
            return original(inputs, *args, **kwargs)
        p = prompt.num_virtual_tokens
        batch = ops.shape(inputs)[0]
        for name in ("self_attention_cache", "cache", "attention_mask",
                     "decoder_attention_mask"):
            if kwargs.get(name) is not None:
                raise NotImplementedError(
                    f"prompt tuning does not support {name}")
        x = inputs
        if first:
            soft = ops.cast(prompt.embeddings, x.dtype)
            soft = ops.broadcast_to(soft[None], (batch,) + tuple(soft.shape))
            x = ops.concatenate([soft, x], axis=1)
        for name in MASK_ARGUMENTS:
            mask = kwargs.get(name)
            if mask is not None:
                ones = ops.ones((batch, p), mask.dtype)
                kwargs[name] = ops.concatenate([ones, mask], axis=1)
        outputs = original(x, *args, **kwargs)
        if last:
            if isinstance(outputs, tuple):
                return (outputs[0][:, p:],) + outputs[1:]
            return outputs[:, p:]
        return outputs

    return call


def _initial_prompt(backbone, config):
    embedding = getattr(backbone, "token_embedding", None)
    if config.prompt_tuning_init == "random" or embedding is None:
        return None
    table = embedding.embeddings.numpy()
    rng = np.random.default_rng(config.seed)
    rows = table[rng.integers(0, table.shape[0], config.num_virtual_tokens)]
    norm = getattr(backbone, "embeddings_layer_norm", None)
    if norm is not None:
        rows = keras.ops.convert_to_numpy(norm(rows))
    return rows.astype(np.float32)


def apply_prompt(model, config=None, verbose=True):
    """Adds a soft prompt to `model`'s transformer stack.

    Args:
        model: a task model with a `backbone`, or a KerasHub backbone, with
            `transformer_layers`.
        config: `PromptConfig` or None for the defaults.
        verbose: print the trainable-parameter summary.

    Returns:
        `model`.

    Raises:
        ValueError: the model has no `transformer_layers`.
    """
    config = config or PromptConfig()
    state = base.start(model, config)
    backbone = getattr(model, "backbone", None) or model
    layers = list(getattr(backbone, "transformer_layers", None) or [])
    if not layers:
        raise ValueError(f"{backbone.name} has no transformer_layers; "
                         "prompt tuning needs a KerasHub backbone")
    hidden_dim = int(backbone.hidden_dim)
    prompt = SoftPrompt(config.num_virtual_tokens, hidden_dim,
                        _initial_prompt(backbone, config),
                        dtype=layers[0].dtype_policy)
    state.layers["soft_prompt"] = prompt
    state.add_hook(
        lambda: base.attach_sublayer(layers[0], "soft_prompt", prompt),
        lambda: base.detach_sublayer(layers[0], "soft_prompt"))
    for index, layer in enumerate(layers):
        function = _with_prompt(prompt, layer.call, index == 0,
                                index == len(layers) - 1)
        state.add_hook(
            lambda l=layer, f=function: base.override_method(l, "call", f),
            lambda l=layer: base.restore_method(l, "call"))
    return base.finish(model, state, verbose)
