"""Adapter-only files, merging, and the merged view that export sees.

An adapter folder holds `adapter_config.json` (the method's config, the
layer paths, and the base backbone it belongs to: class, hyperparameters,
name or path, and a fingerprint of its frozen weights) and
`adapter_model.safetensors` (the method's weights and those of
`modules_to_save`, keyed `<layer path>/<variable name>`). It is written
aside and renamed, like every tfllm checkpoint.
"""

import contextlib
import hashlib
import json
import pathlib

import numpy as np

from tfllm.peft import base
from tfllm.utils.atomic import atomic_path

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
FORMAT_VERSION = 1


def _state(model):
    state = base.get_peft_state(model)
    if state is None:
        raise ValueError(f"{model.name} has no PEFT method (apply_peft)")
    return state


def _mergeable(state):
    return [layer for layer in state.layers.values()
            if hasattr(layer, "merge")]


def _json_safe(value):
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def base_model_info(model, name_or_path=None):
    """What identifies the base backbone of `model` (saved with adapters).

    The fingerprint is a SHA-256 over the name, shape and first 256 values
    of every frozen backbone variable: another checkpoint of the same
    architecture gives another fingerprint.
    """
    backbone = getattr(model, "backbone", None) or model
    config = {k: _json_safe(v) for k, v in backbone.get_config().items()
              if k not in ("name", "dtype", "trainable")}
    digest = hashlib.sha256()
    for variable in sorted(backbone.weights, key=lambda v: v.path):
        if variable.trainable:
            continue
        values = np.asarray(variable.numpy(), np.float32).reshape(-1)[:256]
        digest.update(f"{variable.path}{tuple(variable.shape)}".encode())
        digest.update(values.tobytes())
    return {"class_name": type(backbone).__name__, "config": config,
            "name_or_path": name_or_path,
            "fingerprint": digest.hexdigest()}


def _named(path, variables):
    names = [v.name for v in variables]
    if len(set(names)) < len(names):  # sub-layers: kernel, kernel, ...
        names = [v.path for v in variables]
    return {f"{path}/{n}": v for n, v in zip(names, variables)}


def _variables_by_key(model):
    """dict `<layer path>/<variable name>` -> variable, saved in adapters."""
    state = _state(model)
    found = {}
    for path, layer in state.layers.items():
        found.update(_named(path, layer.peft_variables + getattr(
            layer, "peft_buffers", [])))
    for path, layer in state.modules_to_save.items():
        found.update(_named(path, layer.weights))
    return found


def adapter_weights(model):
    """dict `<layer path>/<variable name>` -> numpy array."""
    return {k: v.numpy() for k, v in _variables_by_key(model).items()}


def save_adapter(model, folder, base_model_name=None):
    """Writes the method's weights and config (not the base) to `folder`.

    Args:
        model: a model with a PEFT method, not merged.
        folder: str or path. Created or replaced atomically.
        base_model_name: str or None. The backbone's name or path
            (`"minilm"`, a checkpoint folder), recorded for the reader.

    Returns:
        `pathlib.Path` of the folder.

    Raises:
        ValueError: no PEFT method, or LoRA weights are merged.
    """
    from safetensors.numpy import save

    state = _state(model)
    if any(layer.merged for layer in _mergeable(state)):
        raise ValueError("unmerge() before save_adapter: the base weights "
                         "hold the update")
    config = {
        "format_version": FORMAT_VERSION,
        "peft_config": state.config.to_dict(),
        "layers": list(state.layers),
        "modules_to_save": list(state.modules_to_save),
        "base_model": base_model_info(model, base_model_name),
        "task": {"class_name": type(model).__name__,
                 "id2label": getattr(model, "id2label", None)},
    }
    extra = getattr(state, "extra_config", None)
    if extra:
        config.update(extra())
    folder = pathlib.Path(folder)
    with atomic_path(folder) as temp:
        temp.mkdir(parents=True)
        weights = {k: np.ascontiguousarray(v)
                   for k, v in adapter_weights(model).items()}
        # safetensors' save_file creates its file with mode 0600; written
        # from bytes, the file gets the usual umask mode (0644), so a
        # serving account other than the trainer's can read the adapter.
        (temp / WEIGHTS_FILE).write_bytes(save(weights))
        (temp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return folder


def read_adapter_config(folder):
    """The parsed `adapter_config.json` of an adapter folder."""
    path = pathlib.Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no adapter config")
    return json.loads(path.read_text())


def load_adapter(model, folder, strict=True, verbose=True):
    """Applies the saved method to `model` (if needed) and loads weights.

    Args:
        model: the base model the adapter was trained on (same task head
            shape), with or without the method applied.
        folder: str or path written by `save_adapter`.
        strict: bool. A base model whose class, hyperparameters or weight
            fingerprint differ from the saved ones raises; False only
            warns.
        verbose: print the trainable-parameter summary when applying.

    Returns:
        `model`.

    Raises:
        FileNotFoundError: no adapter files in `folder`.
        ValueError: wrong base model (strict), or weights missing, extra or
            of another shape (the message names them).
    """
    from safetensors.numpy import load_file

    from tfllm.peft.registry import apply_peft

    folder = pathlib.Path(folder)
    saved = read_adapter_config(folder)
    if base.get_peft_state(model) is None:
        apply_peft(model, saved["peft_config"], verbose=verbose)
    state = _state(model)
    if state.config.to_dict() != saved["peft_config"]:
        raise ValueError(f"{folder}: the model has PEFT config "
                         f"{state.config.to_dict()}, the adapter "
                         f"{saved['peft_config']}")
    here = base_model_info(model)
    problems = [
        f"{key}: saved {saved['base_model'][key]!r}, model {here[key]!r}"
        for key in ("class_name", "config", "fingerprint")
        if saved["base_model"].get(key) != here[key]
    ]
    if problems:
        message = (f"{folder}: adapter trained on another base model "
                   f"({saved['base_model'].get('name_or_path')}): "
                   + "; ".join(problems))
        if strict:
            raise ValueError(message)
        print(f"warning: {message}")
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no adapter weights")
    weights = load_file(str(path))
    variables = _variables_by_key(model)
    missing = sorted(set(variables) - set(weights))
    extra = sorted(set(weights) - set(variables))
    if missing or extra:
        raise ValueError(f"{path}: missing weights {missing}, unexpected "
                         f"{extra}")
    for key, variable in variables.items():
        if tuple(weights[key].shape) != tuple(variable.shape):
            raise ValueError(f"{path}: {key} has shape "
                             f"{weights[key].shape}, the model "
                             f"{tuple(variable.shape)}")
        variable.assign(weights[key])
    return model


def merge(model):
    """Folds every LoRA/AdaLoRA update into its base kernel (in place).

    Each layer saves its merged state with its weights, so `model.save`
    (`.keras`) or `save_weights` of a merged model reloads merged, with the
    update applied once; `unmerge` works after the reload too.
    """
    for layer in _mergeable(_state(model)):
        layer.merge()
    base.reset_compiled_functions(model)


def unmerge(model):
    """Undoes `merge`: the update is subtracted from the kernels again."""
    for layer in _mergeable(_state(model)):
        layer.unmerge()
    base.reset_compiled_functions(model)


@contextlib.contextmanager
def disabled(model):
    """Runs `model` as the base model: every PEFT layer passes through."""
    state = _state(model)
    for layer in state.layers.values():
        layer.enabled = False
    base.reset_compiled_functions(model)
    try:
        yield model
    finally:
        for layer in state.layers.values():
            layer.enabled = True
        base.reset_compiled_functions(model)


@contextlib.contextmanager
def merged_for_export(model):
    """The model as export must see it; restored exactly afterwards.

    LoRA and AdaLoRA updates are merged into the kernels and their
    wrappers taken out of the layers, so a SavedModel traced inside holds
    the base variables and ops only. The kernels are restored from a copy
    on exit (not by subtraction), so training can go on bit-exactly.
    Other methods, and models without PEFT, are yielded unchanged (their
    layers cannot be merged and stay in the graph).
    """
    state = base.get_peft_state(model)
    if state is None or not _mergeable(state) or not state.installed:
        yield model
        return
    layers = _mergeable(state)
    if any(layer.merged for layer in layers):
        raise ValueError("merged_for_export expects unmerged layers")
    saved = [(layer.base_layer.kernel, layer.base_layer.kernel.numpy())
             for layer in layers]
    for layer in layers:
        layer.merge()
    state.uninstall()
    base.reset_compiled_functions(model)
    try:
        yield model
    finally:
        state.install()
        for variable, value in saved:
            variable.assign(value)
        for layer in layers:
            layer.merged = False
        base.reset_compiled_functions(model)


def merge_and_unload(model):
    """Merges LoRA/AdaLoRA for good and returns the plain base model.

    The wrappers are removed, the variables trainable before are again and the
    model no longer carries a PEFT config (its `model.keras` is an ordinary
    task model).

    Raises:
        ValueError: the method cannot be merged (adapters, prefix, prompt).
    """
    state = _state(model)
    if len(_mergeable(state)) != len(state.layers):
        raise ValueError(f"{state.config.method} layers cannot be merged")
    for layer in state.layers.values():
        layer.merge()
    state.uninstall()
    object.__delattr__(model, "peft_state")
    for variable in model.weights:
        variable.trainable = id(variable) in state.originally_trainable
    base.reset_compiled_functions(model)
    return model
