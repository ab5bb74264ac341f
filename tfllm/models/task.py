"""The base of tfllm's task models: one training step for every task."""

import pathlib

import keras

from tfllm.training.steps import SharedTrainStep


class BackboneModelConfig:
    """`get_config`/`from_config` for models that wrap a backbone.

    A mixin (put it before `keras.Model`) for any model whose constructor
    takes `backbone`, `preprocessor`, `name` and `trainable`: the backbone
    and preprocessor are serialized as Keras objects, and a model with a
    PEFT method (`tfllm.peft`) adds its config under `peft`, which
    `from_config` applies again, so `model.keras` files and training
    checkpoints hold the method's weights. Subclasses add their own
    arguments to `get_config`.
    """

    def get_config(self):
        config = {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(
                self.preprocessor
            ) if self.preprocessor is not None else None,
            "name": self.name,
            "trainable": self.trainable,
        }
        state = vars(self).get("peft_state")
        if state is not None:
            config["peft"] = state.config.to_dict()
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "preprocessor"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(
                    config[key]
                )
        peft = config.pop("peft", None)
        model = cls(**config)
        if peft is not None:
            from tfllm.peft.registry import apply_peft

            apply_peft(model, peft, verbose=False)
        return model


class Task(SharedTrainStep, BackboneModelConfig, keras.Model):
    """A `keras.Model` whose `train_step` every tfllm task shares.

    Subclasses build a functional graph in `__init__` (backbone, head) and
    call `super().__init__(inputs=..., outputs=...)`; Keras turns them into
    functional models, as KerasHub's `Task` does.

    The step is `tfllm.training.steps.train_step`, Keras' own TensorFlow
    recipe (tape, `compute_loss`, `optimizer.scale_loss`, `apply`), so
    `tf.distribute`, XLA and mixed precision loss scaling stay with
    Keras. Use Keras loss objects. `tfllm.training.train`
    normalises the sample weights per optimizer update and needs
    `reduction="sum"`: the loss is then the mean over every labelled token
    (or example) of the update, across replicas and accumulated
    micro-batches; padding has weight 0, so it never contributes to the
    loss.
    """

    def get_config(self):
        """The arguments every task shares (`BackboneModelConfig`) and
        `id2label`; subclasses add their own."""
        config = super().get_config()
        config["id2label"] = self.id2label
        return config


def load_task_model(path, task_class, id2label=None):
    """Loads a saved task model (`.keras` file or run folder).

    Args:
        path: str or path. A `.keras` file, or a run folder with
            `model.keras`.
        task_class: the expected class (`TokenClassifier`, ...).
        id2label: list of str or None. If given, must equal the saved label
            list exactly (labels are never re-mapped).

    Returns:
        The model, an instance of `task_class`.

    Raises:
        FileNotFoundError: no model file at `path`.
        ValueError: `id2label` differs from the saved list, the file holds
            another kind of model, or it is corrupt (the message names it).
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no saved model (model.keras)")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:
        raise ValueError(f"{path}: cannot load the model: {e}") from e
    if not isinstance(model, task_class):
        raise ValueError(
            f"{path}: a {type(model).__name__}, not a {task_class.__name__}")
    if id2label is not None and list(id2label) != model.id2label:
        raise ValueError(
            f"{path}: labels {list(id2label)} differ from the saved "
            f"id2label {model.id2label}; the saved order is authoritative"
        )
    return model
