"""What every PEFT method shares: layer paths, target selection, hooks.

A method changes a model in place. It finds its target layers by *path*:
the layer names from the model down to the layer, joined by `/`, e.g.
`backbone/transformer_layer_0/self_attention_layer/query` (the first
component is the model's attribute name, which stays the same between
processes as Keras' numbered layer names do not; KerasHub and
Keras name the query, key, value and output projections of attention
`query`, `key`, `value`, `attention_output`, and the feed-forward ones
`feedforward_intermediate_dense`, `feedforward_output_dense`). As in
Hugging Face PEFT, `target_modules` is a list of path suffixes (whole path
components: `"query"`, `"self_attention_layer/value"`) or one regular
expression that must match a whole path.

Two hooks reach inside KerasHub layers without re-implementing them:

- `replace_sublayer`: a sub-layer that its parent calls from Python
  (`self._query_dense(x)` inside attention) is swapped for a wrapper that
  holds it. Layers called as nodes of a functional graph (a backbone's
  `transformer_layer_0`, a task's head) cannot be swapped this way.
- `override_method`: one method of one layer instance (attention's
  `_compute_attention`, a transformer layer's `call`) is replaced by a
  function that calls the original; deleting the override restores it.

Every hook is recorded as an install/uninstall pair in the model's
`PeftState`, so export can take LoRA out of the graph and put it back.
"""

import math
import re

import keras

# Attributes that hold Keras bookkeeping, not sub-layers of the model.
_SKIP = {"_layers", "_tracker", "_inbound_nodes", "_outbound_nodes",
         "_operations", "_input_layers", "_output_layers", "_inputs",
         "_outputs", "_functional", "base_layer_original"}


def _is_functional(layer):
    return isinstance(layer, keras.Model) and hasattr(layer, "_operations")


def walk_layers(model):
    """Every layer reachable from `model` through attributes, with paths.

    Args:
        model: a `keras.Layer` (usually a task model or a backbone).

    Returns:
        list of `(path, layer, parent, attribute)`. `attribute` is the
        parent's attribute name that holds the layer, or None when the layer
        sits in a list (`transformer_layers`) or is called by a functional
        graph; only layers with an attribute can be swapped.
    """
    found, seen = [], {id(model)}

    def visit(layer, prefix):
        functional = _is_functional(layer)
        for attr, value in sorted(vars(layer).items()):
            if attr in _SKIP:
                continue
            if isinstance(value, keras.layers.Layer):
                # At the root, the attribute name without a leading `_`
                # (KerasHub tasks keep `_backbone` behind a property).
                children = [(value, None if functional else attr,
                             attr.lstrip("_") if not prefix else value.name)]
            elif isinstance(value, (list, tuple)):
                children = [(v, None, v.name) for v in value
                            if isinstance(v, keras.layers.Layer)]
            else:
                continue
            for child, child_attr, name in children:
                if id(child) in seen:
                    continue
                seen.add(id(child))
                path = f"{prefix}/{name}" if prefix else name
                found.append((path, child, layer, child_attr))
                visit(child, path)

    visit(model, "")
    return found


def match_targets(paths, target_modules):
    """The paths that `target_modules` selects.

    Args:
        paths: list of str, the candidate layer paths.
        target_modules: list of str (path suffixes, whole components) or
            str (a regular expression matched against the whole path).

    Returns:
        list of str, in the order of `paths`.

    Raises:
        ValueError: nothing matches; the message lists the candidates.
    """
    if isinstance(target_modules, str):
        pattern = re.compile(target_modules)
        chosen = [p for p in paths if pattern.fullmatch(p)]
    else:
        suffixes = [t.strip("/").split("/") for t in target_modules]
        chosen = [p for p in paths if any(
            p.split("/")[-len(s):] == s for s in suffixes)]
    if not chosen:
        listed = "\n  ".join(paths) if paths else "(none)"
        raise ValueError(
            f"target_modules {target_modules!r} matches no layer; "
            f"candidates:\n  {listed}"
        )
    return chosen


def replace_sublayer(parent, attribute, new):
    """Puts `new` where `parent.<attribute>` was, keeping Keras' tracking.

    The new layer takes the old one's place in `parent`'s sub-layer list,
    so variable order (and the optimizer's slots) stays deterministic.
    """
    old = getattr(parent, attribute)
    parent._tracker.replace_tracked_value("layers", old, new)
    setattr(parent, attribute, new)


def attach_sublayer(parent, attribute, layer):
    """Adds a new tracked sub-layer to an already built `parent`."""
    tracker = parent._tracker
    locked = tracker.locked
    tracker.unlock()
    try:
        setattr(parent, attribute, layer)
    finally:
        tracker.locked = locked


def detach_sublayer(parent, attribute):
    """Removes a sub-layer added by `attach_sublayer`."""
    layer = getattr(parent, attribute)
    parent._tracker.untrack(layer)
    object.__delattr__(parent, attribute)


def override_method(layer, name, function):
    """Replaces `layer.<name>` on this instance only (not tracked)."""
    object.__setattr__(layer, name, function)


def restore_method(layer, name):
    """Removes an `override_method` override."""
    if name in vars(layer):
        object.__delattr__(layer, name)


class PeftState:
    """What a PEFT method did to a model (kept on `model.peft_state`).

    Attributes:
        config: the method's config dataclass.
        layers: dict path -> PEFT layer (the method's trainable layers).
        hooks: list of `(install, uninstall)` callables, in install order.
        modules_to_save: dict path -> layer trained in full (the task head).
        originally_trainable: set of ids of the variables trainable before.
        gradient_hook: None or callable `(gradients, variables)` run by the
            shared train step after `optimizer.apply` (AdaLoRA).
        make_callbacks: None or callable `(total_updates, run_dir) ->
            callbacks` for `tfllm.training.train` (AdaLoRA).
        extra_config: None or callable returning entries added to
            `adapter_config.json` (AdaLoRA's rank pattern).
        installed: bool. False while export has the hooks taken out.
    """

    def __init__(self, config):
        self.config = config
        self.layers = {}
        self.hooks = []
        self.modules_to_save = {}
        self.originally_trainable = set()
        self.gradient_hook = None
        self.make_callbacks = None
        self.extra_config = None
        self.installed = True

    def add_hook(self, install, uninstall):
        install()
        self.hooks.append((install, uninstall))

    def uninstall(self):
        for _, uninstall in reversed(self.hooks):
            uninstall()
        self.installed = False

    def install(self):
        for install, _ in self.hooks:
            install()
        self.installed = True

    def peft_variables(self):
        return [v for layer in self.layers.values()
                for v in layer.peft_variables]


def get_peft_state(model):
    """The model's `PeftState`, or None when no method was applied."""
    return vars(model).get("peft_state")


def set_peft_state(model, state):
    # Plain attribute: neither Keras nor TensorFlow tracks it, so a
    # SavedModel export does not pull PEFT layers in through it.
    object.__setattr__(model, "peft_state", state)


def default_modules_to_save(model):
    """Paths of the task's own layers with weights, outside the backbone.

    For a `TokenClassifier` these are `classifier_head` and
    `casing_embedding`; for a bare backbone, none.
    """
    backbone = getattr(model, "backbone", None)
    if backbone is None or backbone is model:
        return []
    skip = ["backbone"]
    skip.append("preprocessor")
    return [
        path for path, layer, _, _ in walk_layers(model)
        if path.split("/")[0] not in skip
        and any(v.trainable for v in layer._trainable_variables)
    ]


def freeze_all_but(model, state):
    """Freezes every variable but the method's and `modules_to_save`'s."""
    keep = {id(v) for v in state.peft_variables()}
    for layer in state.modules_to_save.values():
        keep.update(id(v) for v in layer.trainable_weights)
    for variable in model.weights:
        if variable.trainable and id(variable) not in keep:
            variable.trainable = False
    reset_compiled_functions(model)


def count_parameters(model):
    """`(trainable, total)` parameter counts of `model`.

    State that is not a parameter (AdaLoRA's importance averages and rank
    masks, a layer's `bookkeeping_variables`) is not counted, as in PEFT.
    """
    def size(variable):
        return int(math.prod(variable.shape))

    state = get_peft_state(model)
    skip = {id(v) for layer in (state.layers.values() if state else ())
            for v in getattr(layer, "bookkeeping_variables", [])}
    trainable = sum(size(v) for v in model.trainable_weights)
    total = sum(size(v) for v in model.weights if id(v) not in skip)
    return trainable, total


def parameter_summary(model):
    """PEFT's one-line summary, e.g. `trainable params: 74,505 || ...`."""
    trainable, total = count_parameters(model)
    percent = 100.0 * trainable / max(total, 1)
    return (f"trainable params: {trainable:,} || all params: {total:,} || "
            f"trainable%: {percent:.4f}")


def reset_compiled_functions(model):
    """Drops cached `tf.function`s so the next call traces the new graph."""
    for name in ("train_function", "test_function", "predict_function"):
        if getattr(model, name, None) is not None:
            setattr(model, name, None)


class PeftConfig:
    """Mixin of the methods' config dataclasses: dict round trip."""

    method = None  # the registry name, set by each subclass

    def to_dict(self):
        import dataclasses

        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return {"method": self.method, **data}

    @classmethod
    def from_dict(cls, data):
        import dataclasses

        data = dict(data)
        data.pop("method", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown fields {unknown}; known: "
                f"{sorted(names)}")
        data = {k: tuple(v) if isinstance(v, list) else v
                for k, v in data.items()}
        return cls(**data)

    get_config = to_dict

    @classmethod
    def from_config(cls, config):
        return cls.from_dict(config)


class WrapperLayer(keras.layers.Layer):
    """Base of a PEFT layer that wraps `self.base_layer` (LoRA, adapters).

    Gives the output shape of the base layer and the config round trip:
    `get_config` holds the serialised base layer plus `wrapper_config()`,
    the subclass's own constructor arguments; `from_config` calls
    `cls(base_layer, **rest)`.
    """

    def wrapper_config(self):
        """The subclass's constructor arguments besides `base_layer`."""
        return {}

    def compute_output_shape(self, input_shape):
        return self.base_layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["base_layer"] = keras.saving.serialize_keras_object(
            self.base_layer)
        config.update(self.wrapper_config())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        base_layer = keras.saving.deserialize_keras_object(
            config.pop("base_layer"))
        return cls(base_layer, **config)


def start(model, config):
    """Checks `model` has no method yet and returns a new `PeftState`."""
    if get_peft_state(model) is not None:
        raise ValueError(
            f"{model.name} already has PEFT method "
            f"{get_peft_state(model).config.method!r}; one method per model")
    state = PeftState(config)
    state.originally_trainable = {
        id(v) for v in model.weights if v.trainable}
    layers = {path: layer for path, layer, _, _ in walk_layers(model)}
    wanted = config.modules_to_save
    paths = (default_modules_to_save(model) if wanted is None
             else match_targets(list(layers), list(wanted)) if wanted
             else [])
    state.modules_to_save = {p: layers[p] for p in paths}
    return state


def finish(model, state, verbose=True):
    """Freezes all but the method's weights, records the state, logs %."""
    set_peft_state(model, state)
    freeze_all_but(model, state)
    if verbose:
        print(f"PEFT {state.config.method}: {len(state.layers)} layers; "
              f"{parameter_summary(model)}")
    return model


def candidates(model, kinds, swappable=True, exclude=()):
    """`(path, layer, parent, attribute)` of layers of the given types."""
    found = []
    for path, layer, parent, attribute in walk_layers(model):
        if not isinstance(layer, kinds) or path in exclude:
            continue
        if swappable and attribute is None:
            continue
        found.append((path, layer, parent, attribute))
    return found


def select(found, target_modules):
    """The entries of `found` whose path `target_modules` selects."""
    chosen = set(match_targets([f[0] for f in found], target_modules))
    return [f for f in found if f[0] in chosen]
