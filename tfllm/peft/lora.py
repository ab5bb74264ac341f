"""LoRA: low-rank adaptation of the linear layers of a transformer.

Hu et al. (2021), "LoRA: Low-Rank Adaptation of Large Language Models". A
frozen weight `W` gets a trainable update `ΔW = A·B · (lora_alpha / r)`
with `A` `[in, r]` (He-uniform) and `B` `[r, out]` (zeros), so the model is
unchanged at the start. The wrapped layer computes
`act(x·W + b + dropout(x)·A·B·scale)`; `merge()` folds `ΔW` into `W`.

Why a wrapper of our own and not Keras' `enable_lora`: Keras merges the
update into the kernel when it saves and resets `A`, `B` on load, so it
cannot give adapter-only files, `unmerge`, a resumable checkpoint of the
factors, or AdaLoRA's SVD form; and it factors an attention projection per
head (`A` `[hidden, heads, r]`) instead of over the whole projection as the
paper and PEFT do. `LoraLayer` holds the original Dense/EinsumDense and
reads its kernel, bias and activation, for any einsum equation.
"""

import dataclasses
from typing import Optional
from typing import Sequence
from typing import Union

import keras
import numpy as np
from keras import ops

from tfllm.peft import base

LINEAR = (keras.layers.Dense, keras.layers.EinsumDense)


@dataclasses.dataclass
class LoraConfig(base.PeftConfig):
    """Settings of LoRA (names as in Hugging Face PEFT).

    Attributes:
        r: int. Rank of the update. Defaults to 8.
        lora_alpha: float. The update is scaled by `lora_alpha / r`.
            Defaults to 16.
        lora_dropout: float. Dropout on the input of the update branch.
            Defaults to 0.
        target_modules: list of path suffixes, one regular expression, or
            `"all-linear"` (every Dense/EinsumDense inside the transformer
            layers). Defaults to `["query", "value"]` as in the paper.
        modules_to_save: list of path suffixes trained in full, or None for
            the task's own layers outside the backbone (the head).
    """

    method = "lora"

    r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    target_modules: Union[str, Sequence[str]] = ("query", "value")
    modules_to_save: Optional[Sequence[str]] = None

    def __post_init__(self):
        if self.r < 1:
            raise ValueError(f"r must be >= 1, got {self.r}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1): "
                             f"{self.lora_dropout}")


def _free_letter(used):
    return next(c for c in "rstuvwxyzRSTUVWXYZ" if c not in used)


def einsum_plan(layer):
    """Equations of the low-rank path of a Dense or EinsumDense layer.

    The kernel's axes that also index the input are its input axes, the
    others its output axes (`"abc,cde->abde"`: `c` in, `de` out).

    Returns:
        dict with `in_shape`, `out_shape` (kernel dims), and the einsum
        equations `down` (x, A -> h), `up` (h, B -> y) and `merge`
        (A, B -> ΔW in the kernel's layout).

    Raises:
        ValueError: the kernel's input axes do not all precede its output
            axes.
    """
    kernel_shape = tuple(layer.kernel.shape)
    if isinstance(layer, keras.layers.Dense):
        return {"in_shape": kernel_shape[:1], "out_shape": kernel_shape[1:],
                "down": "...i,ir->...r", "up": "...r,ro->...o",
                "merge": "ir,ro->io"}
    inputs, output = layer.equation.split("->")
    x_spec, kernel_spec = inputs.split(",")
    x_letters = x_spec.replace("...", "")
    in_axes = "".join(c for c in kernel_spec if c in x_letters)
    out_axes = "".join(c for c in kernel_spec if c not in x_letters)
    if kernel_spec != in_axes + out_axes:
        raise ValueError(
            f"{layer.name}: equation {layer.equation!r} mixes input and "
            "output axes in its kernel; LoRA cannot factor it")
    rank = _free_letter(layer.equation)
    batch = ("..." if "..." in x_spec else "") + "".join(
        c for c in x_letters if c not in kernel_spec)
    n_in = len(in_axes)
    return {
        "in_shape": kernel_shape[:n_in], "out_shape": kernel_shape[n_in:],
        "down": f"{x_spec},{in_axes}{rank}->{batch}{rank}",
        "up": f"{batch}{rank},{rank}{out_axes}->{output}",
        "merge": f"{in_axes}{rank},{rank}{out_axes}->{kernel_spec}",
    }


DENSE_EQUATIONS = ("...i,ir->...r", "...r,ro->...o")


def contract(equation, x, factor):
    """`einsum(equation, x, factor)` of a low-rank path.

    Dense layers' equations (`...i,ir->...r`, `...r,ro->...o`) run as a
    plain matmul: TensorFlow's einsum with an ellipsis takes a generic path
    whose gradient made LoRA on the feed-forward layers several times
    slower than the layers themselves.
    """
    if equation in DENSE_EQUATIONS:
        return ops.matmul(x, factor)
    return ops.einsum(equation, x, factor)


def linear_pre_activation(layer, x):
    """`x·W + b` of a Dense or EinsumDense layer (no activation)."""
    if isinstance(layer, keras.layers.Dense):
        y = ops.matmul(x, layer.kernel)
    else:
        y = ops.einsum(layer.equation, x, layer.kernel)
    if layer.bias is not None:
        y = ops.add(y, layer.bias)
    return y


class LoraLayer(base.WrapperLayer):
    """A frozen Dense/EinsumDense layer plus a trainable low-rank update.

    Args:
        base_layer: built `keras.layers.Dense` or `keras.layers.EinsumDense`
            (not quantized, without Keras' own LoRA).
        r: int. Rank.
        lora_alpha: float. Scale numerator (`scale = lora_alpha / r`).
        lora_dropout: float. Dropout on the update branch's input.

    Call arguments:
        inputs: the base layer's input, e.g. `[batch, sequence, hidden]`.

    Returns:
        The base layer's output shape and dtype.
    """

    def __init__(self, base_layer, r=8, lora_alpha=16.0, lora_dropout=0.0,
                 **kwargs):
        kwargs.setdefault("name", base_layer.name)
        kwargs.setdefault("dtype", base_layer.dtype_policy)
        super().__init__(**kwargs)
        if getattr(base_layer, "quantization_mode", None):
            raise ValueError(f"{base_layer.name} is quantized")
        if getattr(base_layer, "lora_enabled", False):
            raise ValueError(f"{base_layer.name} has Keras' LoRA enabled")
        self.base_layer = base_layer
        self.r = int(r)
        self.lora_alpha = float(lora_alpha)
        self.lora_dropout = float(lora_dropout)
        self.scale = self.lora_alpha / self.r
        self.plan = einsum_plan(base_layer)
        self.dropout_layer = keras.layers.Dropout(self.lora_dropout)
        self.merged = False
        self.enabled = True
        self._create_factors()
        self.built = True

    def _create_factors(self):
        self.lora_A = self.add_weight(
            name="lora_A", shape=self.plan["in_shape"] + (self.r,),
            initializer=keras.initializers.HeUniform())
        self.lora_B = self.add_weight(
            name="lora_B", shape=(self.r,) + self.plan["out_shape"],
            initializer="zeros")

    @property
    def peft_variables(self):
        return [self.lora_A, self.lora_B]

    def branch(self, x, training=None):
        """The update's contribution `dropout(x)·A·B·scale`."""
        if self.lora_dropout:
            x = self.dropout_layer(x, training=training)
        h = contract(self.plan["down"], x, self.lora_A)
        return contract(self.plan["up"], h, self.lora_B) * self.scale

    def call(self, inputs, training=None):
        y = linear_pre_activation(self.base_layer, inputs)
        if self.enabled and not self.merged:
            y = ops.add(y, ops.cast(self.branch(inputs, training), y.dtype))
        if self.base_layer.activation is not None:
            y = self.base_layer.activation(y)
        return y

    def delta_weight(self):
        """`ΔW` in the base kernel's layout (float32 variable dtype)."""
        return ops.einsum(self.plan["merge"], self.lora_A.value,
                          self.lora_B.value) * self.scale

    def merge(self):
        """Adds `ΔW` to the base kernel; the branch is then skipped."""
        if not self.merged:
            kernel = self.base_layer.kernel
            kernel.assign(kernel + ops.cast(self.delta_weight(),
                                            kernel.dtype))
            self.merged = True

    def unmerge(self):
        """Subtracts `ΔW` again (equal to before up to rounding)."""
        if self.merged:
            kernel = self.base_layer.kernel
            kernel.assign(kernel - ops.cast(self.delta_weight(),
                                            kernel.dtype))
            self.merged = False

    # Key of the merged flag among the layer's saved variables ("0", "1",
    # ...). It is written only for a merged layer, so the files of
    # unmerged models are the same as before the flag existed.
    MERGED_KEY = "merged"

    def save_own_variables(self, store):
        """Saves the factors and, when merged, the flag `merged` = 1.

        The merged state lives with the weights because it describes them:
        the base kernel saved beside the factors then holds `W + ΔW`.
        Without the flag a merged `model.keras` (or `.weights.h5`) reloads
        as unmerged and adds `ΔW` a second time.
        """
        super().save_own_variables(store)
        if self.merged:
            store[self.MERGED_KEY] = np.ones((), "int8")

    def load_own_variables(self, store):
        """Loads the factors and sets `merged` from the saved flag.

        A file without the flag (unmerged, or written before the flag
        existed) leaves the layer unmerged. The flag is read when a
        function is traced: after `model.load_weights` of a file with
        another merged state into a model that has already run, call
        `tfllm.peft.base.reset_compiled_functions(model)` (a freshly
        loaded model needs nothing).

        Raises:
            ValueError: the file holds another number of variables than
                the layer (the message names the layer and both counts).
        """
        variables = self._trainable_variables + self._non_trainable_variables
        keys = [k for k in store.keys() if k != self.MERGED_KEY]
        if len(keys) != len(variables):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) has "
                f"{len(variables)} variables, the file lists {len(keys)} "
                f"for it")
        for i, variable in enumerate(variables):
            variable.assign(store[f"{i}"])
        self.merged = (self.MERGED_KEY in store.keys()
                       and bool(np.asarray(store[self.MERGED_KEY])))

    def wrapper_config(self):
        return {
            "r": self.r,
            "lora_alpha": self.lora_alpha,
            "lora_dropout": self.lora_dropout,
        }


def linear_candidates(model, state):
    """Swappable Dense/EinsumDense layers outside `modules_to_save`."""
    return base.candidates(model, LINEAR, exclude=set(state.modules_to_save))


def all_linear(found):
    """`"all-linear"`: the linear layers inside transformer layers."""
    return [f for f in found if "/transformer_layer" in "/" + f[0]
            or f[0].startswith("transformer_layer")]


def wrap_linear_layers(model, config, state, make_layer):
    """Swaps the targeted linear layers for `make_layer(base_layer)`."""
    found = linear_candidates(model, state)
    if config.target_modules == "all-linear":
        chosen = all_linear(found)
        if not chosen:
            base.match_targets([f[0] for f in found], "(?!)")
    else:
        chosen = base.select(found, config.target_modules)
    for path, layer, parent, attribute in chosen:
        wrapper = make_layer(layer)
        state.layers[path] = wrapper
        state.add_hook(
            lambda p=parent, a=attribute, w=wrapper: base.replace_sublayer(
                p, a, w),
            lambda p=parent, a=attribute, l=layer: base.replace_sublayer(
                p, a, l),
        )
    return state


def apply_lora(model, config=None, verbose=True):
    """Adds LoRA to `model` in place and freezes everything else.

    Args:
        model: a `keras.Model` holding KerasHub transformer layers (a tfllm
            task, a KerasHub backbone or causal LM).
        config: `LoraConfig` or None for the defaults.
        verbose: print the trainable-parameter summary.

    Returns:
        `model`, with `model.peft_state`.

    Raises:
        ValueError: no layer matches `target_modules` (the message lists
            the candidates) or the model already has a PEFT method.
    """
    config = config or LoraConfig()
    state = base.start(model, config)
    wrap_linear_layers(model, config, state, lambda layer: LoraLayer(
        layer, config.r, config.lora_alpha, config.lora_dropout))
    return base.finish(model, state, verbose)
