"""Bottleneck adapters inside every transformer layer.

Houlsby et al. (2019), "Parameter-Efficient Transfer Learning for NLP":
after the attention output projection and after the feed-forward output
projection (before each residual add and layer norm), a small
down-projection, non-linearity and up-projection with its own residual,
`h + W_up·f(W_down·h + b_down) + b_up`. The up-projection starts at zero,
so every adapter starts as the identity and the model is unchanged.
Pfeiffer et al. (2021, "AdapterFusion") keep only the feed-forward one
(`placement="pfeiffer"`).

The hook wraps KerasHub's projection layers (`attention_output`,
`feedforward_output_dense`), which the attention and transformer layers
call from Python, so BERT encoders and GPT-2/Llama decoders get the same
placement without re-implementing them.
"""

import dataclasses
from typing import Optional
from typing import Sequence
from typing import Union

import keras
from keras import ops

from tfllm.peft import base

PLACEMENTS = {
    "houlsby": ("attention_output", "feedforward_output_dense"),
    "pfeiffer": ("feedforward_output_dense",),
}


@dataclasses.dataclass
class AdapterConfig(base.PeftConfig):
    """Settings of bottleneck adapters.

    Attributes:
        bottleneck_dim: int. Width of the bottleneck. Defaults to 64.
        non_linearity: str. Keras activation name. Defaults to `"gelu"`.
        placement: str. `"houlsby"` (after attention and feed-forward) or
            `"pfeiffer"` (after feed-forward only).
        init_stddev: float. Normal init of the down-projection; the
            up-projection starts at zero. Defaults to 1e-2.
        target_modules: list of path suffixes or a regular expression;
            None: the placement's layers.
        modules_to_save: as in `LoraConfig`.
    """

    method = "adapter"

    bottleneck_dim: int = 64
    non_linearity: str = "gelu"
    placement: str = "houlsby"
    init_stddev: float = 1e-2
    target_modules: Optional[Union[str, Sequence[str]]] = None
    modules_to_save: Optional[Sequence[str]] = None

    def __post_init__(self):
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {list(PLACEMENTS)}, "
                             f"got {self.placement!r}")


class AdapterLayer(base.WrapperLayer):
    """A sub-layer followed by a bottleneck adapter with a residual.

    Args:
        base_layer: the wrapped layer (its output `[..., hidden_dim]`).
        hidden_dim: int. Last dimension of the base layer's output.
        bottleneck_dim: int. Adapter width.
        non_linearity: str. Activation between the projections.
        init_stddev: float. Std of the down-projection's normal init.

    Call arguments:
        The base layer's arguments, passed through.

    Returns:
        `y + up(f(down(y)))` where `y` is the base layer's output.
    """

    def __init__(self, base_layer, hidden_dim, bottleneck_dim=64,
                 non_linearity="gelu", init_stddev=1e-2, **kwargs):
        kwargs.setdefault("name", base_layer.name)
        kwargs.setdefault("dtype", base_layer.dtype_policy)
        super().__init__(**kwargs)
        self.base_layer = base_layer
        self.hidden_dim = int(hidden_dim)
        self.bottleneck_dim = int(bottleneck_dim)
        self.non_linearity = non_linearity
        self.init_stddev = float(init_stddev)
        self.activation = keras.activations.get(non_linearity)
        self.down_kernel = self.add_weight(
            name="down_kernel", shape=(self.hidden_dim, self.bottleneck_dim),
            initializer=keras.initializers.RandomNormal(
                stddev=self.init_stddev))
        self.down_bias = self.add_weight(
            name="down_bias", shape=(self.bottleneck_dim,),
            initializer="zeros")
        self.up_kernel = self.add_weight(
            name="up_kernel", shape=(self.bottleneck_dim, self.hidden_dim),
            initializer="zeros")
        self.up_bias = self.add_weight(
            name="up_bias", shape=(self.hidden_dim,), initializer="zeros")
        self.enabled = True
        self.built = True

    @property
    def peft_variables(self):
        return [self.down_kernel, self.down_bias, self.up_kernel,
                self.up_bias]

    def call(self, inputs, *args, **kwargs):
        y = self.base_layer(inputs, *args, **kwargs)
        if not self.enabled:
            return y
        h = self.activation(ops.matmul(y, self.down_kernel) + self.down_bias)
        return y + ops.matmul(h, self.up_kernel) + self.up_bias

    def wrapper_config(self):
        return {
            "hidden_dim": self.hidden_dim,
            "bottleneck_dim": self.bottleneck_dim,
            "non_linearity": self.non_linearity,
            "init_stddev": self.init_stddev,
        }


def _output_dim(layer):
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        raise ValueError(f"{layer.name}: adapters wrap projection layers "
                         "with a kernel (Dense, EinsumDense)")
    return int(kernel.shape[-1])


def apply_adapter(model, config=None, verbose=True):
    """Inserts bottleneck adapters into `model` and freezes the rest.

    Args:
        model: a `keras.Model` holding KerasHub transformer layers.
        config: `AdapterConfig` or None for Houlsby's placement.
        verbose: print the trainable-parameter summary.

    Returns:
        `model`.

    Raises:
        ValueError: no layer matches (the message lists candidates).
    """
    config = config or AdapterConfig()
    state = base.start(model, config)
    targets = config.target_modules or list(PLACEMENTS[config.placement])
    found = base.candidates(model, keras.layers.Layer,
                            exclude=set(state.modules_to_save))
    for path, layer, parent, attribute in base.select(found, targets):
        wrapper = AdapterLayer(layer, _output_dim(layer),
                               config.bottleneck_dim, config.non_linearity,
                               config.init_stddev)
        state.layers[path] = wrapper
        state.add_hook(
            lambda p=parent, a=attribute, w=wrapper: base.replace_sublayer(
                p, a, w),
            lambda p=parent, a=attribute, l=layer: base.replace_sublayer(
                p, a, l),
        )
    return base.finish(model, state, verbose)
