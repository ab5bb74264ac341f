"""The PEFT methods by name: `--peft lora|adalora|adapter|prefix|prompt`."""

import importlib
import json
import pathlib

# name -> (module, config class, apply function)
METHODS = {
    "lora": ("tfllm.peft.lora", "LoraConfig", "apply_lora"),
    "adalora": ("tfllm.peft.adalora", "AdaLoraConfig", "apply_adalora"),
    "adapter": ("tfllm.peft.adapter", "AdapterConfig", "apply_adapter"),
    "prefix": ("tfllm.peft.prefix", "PrefixConfig", "apply_prefix"),
    "prompt": ("tfllm.peft.prompt", "PromptConfig", "apply_prompt"),
}


def _entry(method):
    if method not in METHODS:
        raise ValueError(f"unknown PEFT method {method!r}; known: "
                         f"{', '.join(METHODS)}")
    module, config_name, apply_name = METHODS[method]
    module = importlib.import_module(module)
    return getattr(module, config_name), getattr(module, apply_name)


def config_class(method):
    """The config dataclass of `method` (`"lora"` -> `LoraConfig`)."""
    return _entry(method)[0]


def make_config(method, options=None):
    """A method's config from a dict of field values.

    Args:
        method: str, a key of `METHODS`.
        options: dict, or None for the defaults.

    Raises:
        ValueError: unknown method or unknown field (the message lists the
            known fields).
    """
    return config_class(method).from_dict(options or {})


def config_from_dict(data):
    """A config from `to_dict()` output (it holds `method`)."""
    return make_config(data["method"], data)


def apply_peft(model, config, verbose=True):
    """Applies a PEFT method to `model` in place.

    Args:
        model: a `keras.Model` holding KerasHub transformer layers.
        config: a method config (`LoraConfig`, ...), a dict from
            `to_dict()`, or a method name (its defaults).
        verbose: print the trainable-parameter summary.

    Returns:
        `model`.
    """
    if isinstance(config, str):
        config = make_config(config)
    elif isinstance(config, dict):
        config = config_from_dict(config)
    _, apply = _entry(config.method)
    return apply(model, config, verbose=verbose)


def parse_options(text):
    """Parses `--peft-config`: JSON, a JSON file, or `key=value,...`.

    In the `key=value` form, values are JSON when they parse as JSON
    (`r=16`, `lora_dropout=0.1`, `use_mlp=true`) and strings otherwise;
    `+` separates list items (`target_modules=query+key+value`).

    Raises:
        ValueError: a pair without `=`; the message shows it.
    """
    if not text:
        return {}
    text = text.strip()
    if text.startswith("{"):
        return json.loads(text)
    if pathlib.Path(text).is_file():
        return json.loads(pathlib.Path(text).read_text())
    options = {}
    for pair in text.split(","):
        if "=" not in pair:
            raise ValueError(f"--peft-config: expected key=value, got "
                             f"{pair!r}")
        key, value = (s.strip() for s in pair.split("=", 1))
        if "+" in value:
            options[key] = [v for v in value.split("+") if v]
            continue
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def training_callbacks(model, total_updates, run_dir):
    """Keras callbacks the model's PEFT method needs during `fit`.

    Args:
        model: a model, with or without a PEFT method.
        total_updates: int. Optimizer updates of the whole run.
        run_dir: str or path. The run folder (TensorBoard logs).

    Returns:
        list of `keras.callbacks.Callback` (empty for most methods).
    """
    from tfllm.peft.base import get_peft_state

    state = get_peft_state(model)
    make = getattr(state, "make_callbacks", None)
    return make(total_updates, run_dir) if make else []
