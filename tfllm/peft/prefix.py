"""Prefix tuning: learned keys and values in front of every attention.

Li & Liang (2021), "Prefix-Tuning: Optimizing Continuous Prompts for
Generation", and for encoders Liu et al. (2022), "P-Tuning v2". Each
attention layer attends to `num_virtual_tokens` extra key/value pairs
before the sequence's own; the attention mask gains as many columns,
always open (for causal attention too: every position sees the whole
prefix). With `prefix_projection`, the prefixes come from one shared MLP
over a small embedding (`Embedding -> Dense(tanh) -> Dense`, the
reparameterisation of both papers), which steadies training.

The hook overrides `_compute_attention` of each Keras/KerasHub attention
layer instance (`MultiHeadAttention`, `CachedMultiHeadAttention`,
`LlamaAttention`): it receives the projected `[batch, seq, heads, dim]`
keys and values, so the prefix is added after RoPE, as in PEFT. The prefix
layer is tracked by the first attention layer, so it is saved with the
model.
"""

import dataclasses
import math
from typing import Optional
from typing import Sequence
from typing import Union

import keras
from keras import ops

from tfllm.peft import base


@dataclasses.dataclass
class PrefixConfig(base.PeftConfig):
    """Settings of prefix tuning (names as in Hugging Face PEFT).

    Attributes:
        num_virtual_tokens: int. Prefix length. Defaults to 20.
        prefix_projection: bool. Reparameterise through an MLP.
        encoder_hidden_size: int. Hidden width of that MLP.
        init_stddev: float. Normal init of the prefix (or its embedding).
        target_modules: path suffixes or a regular expression; None: every
            attention layer.
        modules_to_save: as in `LoraConfig`.
    """

    method = "prefix"

    num_virtual_tokens: int = 20
    prefix_projection: bool = False
    encoder_hidden_size: int = 512
    init_stddev: float = 1.0
    target_modules: Optional[Union[str, Sequence[str]]] = None
    modules_to_save: Optional[Sequence[str]] = None


def _is_attention(layer):
    return hasattr(layer, "_compute_attention") and hasattr(
        layer, "_key_dense")


def _projection_size(dense):
    shape = tuple(dense.kernel.shape)[1:]  # (heads, head_dim)
    return shape, math.prod(shape)


class PrefixEncoder(keras.layers.Layer):
    """The key/value prefixes of every attention layer.

    Args:
        num_layers: int. Attention layers served.
        num_virtual_tokens: int. Prefix length `P`.
        key_shape, value_shape: tuple. `(heads, head_dim)` of the keys and
            values.
        prefix_projection: bool. MLP reparameterisation.
        hidden_dim: int. Width of the MLP's input embedding.
        encoder_hidden_size: int. Width of its hidden layer.
        init_stddev: float. Normal init of the prefix or embedding.
    """

    def __init__(self, num_layers, num_virtual_tokens, key_shape,
                 value_shape, prefix_projection=False, hidden_dim=64,
                 encoder_hidden_size=512, init_stddev=1.0, **kwargs):
        kwargs.setdefault("name", "prefix_encoder")
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.num_virtual_tokens = num_virtual_tokens
        self.key_shape, self.value_shape = tuple(key_shape), tuple(
            value_shape)
        self.width = math.prod(self.key_shape) + math.prod(self.value_shape)
        self.prefix_projection = prefix_projection
        normal = keras.initializers.RandomNormal(stddev=init_stddev)
        size = num_layers * self.width
        if prefix_projection:
            self.embedding = self.add_weight(
                name="embedding", shape=(num_virtual_tokens, hidden_dim),
                initializer=normal)
            self.hidden = keras.layers.Dense(
                encoder_hidden_size, activation="tanh", name="mlp_hidden")
            self.output_dense = keras.layers.Dense(size, name="mlp_output")
            self.hidden.build((None, hidden_dim))
            self.output_dense.build((None, encoder_hidden_size))
        else:
            self.prefix = self.add_weight(
                name="prefix", shape=(num_virtual_tokens, size),
                initializer=normal)
        self.enabled = True
        self.built = True

    @property
    def peft_variables(self):
        if self.prefix_projection:
            return ([self.embedding] + self.hidden.trainable_weights
                    + self.output_dense.trainable_weights)
        return [self.prefix]

    def key_values(self, index):
        """Keys `[P, *key_shape]` and values `[P, *value_shape]`."""
        if self.prefix_projection:
            table = self.output_dense(self.hidden(self.embedding))
        else:
            table = self.prefix
        start = index * self.width
        split = start + math.prod(self.key_shape)
        p = self.num_virtual_tokens
        keys = ops.reshape(table[:, start:split], (p,) + self.key_shape)
        values = ops.reshape(table[:, split:start + self.width],
                             (p,) + self.value_shape)
        return keys, values


def _with_prefix(encoder, index, original):
    """`_compute_attention` with the prefix of layer `index` in front."""

    def compute_attention(query, key, value, attention_mask=None, *args,
                          **kwargs):
        if not encoder.enabled:
            return original(query, key, value, attention_mask, *args,
                            **kwargs)
        p = encoder.num_virtual_tokens
        batch = ops.shape(query)[0]
        prefix_key, prefix_value = encoder.key_values(index)

        def extend(prefix, x):  # (P, heads, dim) -> (B, P + S, heads, dim)
            prefix = ops.cast(prefix, x.dtype)
            repeats = x.shape[2] // prefix.shape[1]
            if repeats > 1:  # grouped-query attention repeats kv heads
                prefix = ops.repeat(prefix, repeats, axis=1)
            prefix = ops.broadcast_to(prefix[None],
                                      (batch,) + tuple(prefix.shape))
            return ops.concatenate([prefix, x], axis=1)

        key, value = extend(prefix_key, key), extend(prefix_value, value)
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")
            ones = ops.ones(ops.shape(mask)[:-1] + (p,), "bool")
            attention_mask = ops.concatenate([ones, mask], axis=-1)
        elif kwargs.get("use_causal_mask"):
            length = ops.shape(query)[1]
            causal = ops.tril(ops.ones((length, length), "bool"))
            mask = ops.concatenate(
                [ops.ones((length, p), "bool"), causal], axis=-1)
            attention_mask = ops.broadcast_to(
                mask[None], (batch, length, length + p))
            kwargs["use_causal_mask"] = False
        return original(query, key, value, attention_mask, *args, **kwargs)

    return compute_attention


def apply_prefix(model, config=None, verbose=True):
    """Adds prefix tuning to every targeted attention layer of `model`.

    Args:
        model: a `keras.Model` holding Keras/KerasHub attention layers.
        config: `PrefixConfig` or None for the defaults.
        verbose: print the trainable-parameter summary.

    Returns:
        `model`.

    Raises:
        ValueError: no attention layer matches (the message lists them).
    """
    config = config or PrefixConfig()
    state = base.start(model, config)
    found = [f for f in base.candidates(model, keras.layers.Layer,
                                        swappable=False)
             if _is_attention(f[1])]
    chosen = (base.select(found, config.target_modules)
              if config.target_modules else found)
    if not chosen:
        base.match_targets([], "attention")
    first = chosen[0][1]
    key_shape, _ = _projection_size(first._key_dense)
    value_shape, _ = _projection_size(first._value_dense)
    hidden_dim = int(first._key_dense.kernel.shape[0])
    encoder = PrefixEncoder(
        len(chosen), config.num_virtual_tokens, key_shape, value_shape,
        config.prefix_projection, hidden_dim, config.encoder_hidden_size,
        config.init_stddev, dtype=first.dtype_policy)
    state.layers["prefix_encoder"] = encoder
    state.add_hook(
        lambda: base.attach_sublayer(first, "prefix_encoder", encoder),
        lambda: base.detach_sublayer(first, "prefix_encoder"))
    for index, (path, layer, _, _) in enumerate(chosen):
        function = _with_prefix(encoder, index, layer._compute_attention)
        state.add_hook(
            lambda l=layer, f=function: base.override_method(
                l, "_compute_attention", f),
            lambda l=layer: base.restore_method(l, "_compute_attention"))
    return base.finish(model, state, verbose)
