"""One exporter for every deployment format of a trained task model.

`export_model` writes, from a `TokenClassifier` or `TextClassifier`:

- a raw-text SavedModel version for TF Serving (`saved_models/<name>/<n>/`,
  `serving_default` on `tf.string` text, tokenized in the graph) with warm-up
  requests in `assets.extra/`, and `models.config` beside the versions;
- a LiteRT bundle (`tfllm.export.litert_bundle`): float32, float16,
  dynamic-range int8 and full-integer int8 `.tflite` files on token ids,
  each checked against the Keras model, a collapsed conversion refused;
- optionally a raw-text SavedModel of Keras' own `quantize("int8")` model.

Every folder is written aside and renamed when complete.
"""

import pathlib

import numpy as np

from tfllm.export.litert_bundle import TOKEN_TASK
from tfllm.export.litert_bundle import encode_features
from tfllm.export.litert_bundle import task_kind
from tfllm.export.litert_bundle import write_bundle
from tfllm.export.serving_warmup import models_config
from tfllm.export.tflite import CALIBRATED
from tfllm.export.tflite import DEFAULT_FLAVOURS
from tfllm.export.tflite import MIN_AGREEMENT
from tfllm.export.tflite import CollapsedModelError
from tfllm.export.tflite import convert_checked
from tfllm.export.tflite import input_names
from tfllm.utils.atomic import atomic_path


def export_raw_text(model, export_base, model_name, version=None):
    """The raw-text TF Serving SavedModel with warm-up requests.

    Also writes `<export_base>/models.config` for
    `tensorflow_model_server --model_config_file` (base path
    `/models/<model_name>`, as in the README's docker command).

    Returns:
        `pathlib.Path` of the version folder.
    """
    if task_kind(model) == TOKEN_TASK:
        from tfllm.export.ner_serving import export_ner as export
    else:
        from tfllm.export.classifier_serving import export_classifier as export
    path = export(model, export_base, version=version,
                  warmup_model_name=model_name)
    with atomic_path(pathlib.Path(export_base) / "models.config") as temp:
        temp.write_text(models_config({model_name: f"/models/{model_name}"}))
    return path


def sequence_rows(model, items, limit, batch_size=256):
    """Encoded sequences of `items`, one dict of int32 `[1, length]` each.

    Args:
        model: task model with a preprocessor.
        items: list of word lists (NER) or texts.
        limit: int. Most sequences returned (NER windows or texts).

    Returns:
        list of dicts name -> int32 numpy `[1, length]`.
    """
    names = input_names(model)
    rows = []
    for start in range(0, len(items), batch_size):
        features, _ = encode_features(
            model.preprocessor, items[start:start + batch_size], names)
        lists = {k: v.to_list() for k, v in features.items()}
        for i in range(len(lists["token_ids"])):
            rows.append({k: np.asarray([lists[k][i]], np.int32)
                         for k in names})
            if len(rows) == limit:
                return rows
    return rows


def _stack(rows):
    """Ragged-like dict for `representative_dataset` from `[1, T]` rows."""
    return {k: [r[k][0] for r in rows] for k in rows[0]} if rows else {}


def keras_int8_model(model):
    """A copy of `model` with Keras' own int8 weight quantization.

    The backbone's `keras.Model.quantize("int8")` turns its Dense,
    EinsumDense and Embedding kernels into int8 with per-channel scales and
    quantizes their inputs on the fly; the task head stays float32 (the
    whole task model cannot be quantized: its preprocessor is a layer
    without weights that Keras refuses to quantize).
    """
    config = model.get_config()
    config["preprocessor"] = model.preprocessor  # shares its vocabulary
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    copy.backbone.quantize("int8")
    return copy


def export_model(model, name, saved_model_dir, litert_dir,
                 calibration_items, probe_items, flavours=DEFAULT_FLAVOURS,
                 sequence_length=None, calibration_samples=100,
                 probe_samples=64, min_agreement=MIN_AGREEMENT,
                 keras_int8=False, version=None, skip_collapsed=False):
    """Exports a task model in every deployment format.

    Args:
        model: `TokenClassifier` or `TextClassifier` with a preprocessor.
        name: str. The TF Serving model name.
        saved_model_dir: str or path. The folder TF Serving watches
            (versions are integer subfolders); None: no SavedModel.
        litert_dir: str or path. The LiteRT bundle folder; None: no TFLite.
        calibration_items: list of training word lists / texts; their
            first `calibration_samples` sequences calibrate `int8` and
            `int16x8`.
        probe_items: list of held-out word lists / texts; the first
            `probe_samples` sequences check every `.tflite` file.
        flavours: sequence of `tfllm.export.tflite.FLAVOURS`; default
            `DEFAULT_FLAVOURS` (all but `int16x8`).
        sequence_length: int or None. Fixed TFLite input length (batch 1);
            None: dynamic batch and length.
        min_agreement: float. See `convert_checked`.
        keras_int8: bool. Also write `<saved_model_dir>_keras_int8/<n>/`.
        version: int or None. SavedModel version (None: next).
        skip_collapsed: bool. Leave out a flavour that fails the agreement
            check (its report goes to `refused`) instead of raising.

    Returns:
        dict: `saved_model`, `keras_int8` (paths or None), `litert` (path
        or None), `reports` (flavour -> report) and `refused` (flavour ->
        report of a conversion left out by `skip_collapsed`).

    Raises:
        CollapsedModelError: a TFLite flavour failed the agreement check
            (without `skip_collapsed`); nothing of the bundle is written.
    """
    result = {"saved_model": None, "keras_int8": None, "litert": None,
              "reports": {}, "refused": {}}
    if saved_model_dir is not None:
        result["saved_model"] = str(export_raw_text(
            model, saved_model_dir, name, version))
        if keras_int8:
            base = pathlib.Path(str(saved_model_dir) + "_keras_int8")
            result["keras_int8"] = str(export_raw_text(
                keras_int8_model(model), base, f"{name}_keras_int8",
                version))
    if litert_dir is not None and flavours:
        calibration = _stack(sequence_rows(model, calibration_items,
                                           calibration_samples))
        probe = sequence_rows(model, probe_items, probe_samples)
        models = {}
        for flavour in flavours:
            try:
                blob, report = convert_checked(
                    model, flavour, calibration, probe, sequence_length,
                    min_agreement)
            except CollapsedModelError as error:
                if not skip_collapsed:
                    raise
                print(f"REFUSED {error}")
                result["refused"][flavour] = error.report
                continue
            models[flavour] = blob
            result["reports"][flavour] = report
            print(f"{flavour}: {report['bytes'] / 2**20:.1f} MiB, probe "
                  f"agreement {report.get('agreement', float('nan')):.4f} "
                  f"(tagged tokens "
                  f"{report.get('tagged_agreement', float('nan')):.4f}), "
                  f"max |delta logit| "
                  f"{report.get('max_abs_logit_diff', float('nan')):.3g}"
                  + (f"; float32 ops: {report['float_ops']}"
                     if report.get("float_ops") and flavour in CALIBRATED
                     else ""))
        result["litert"] = str(write_bundle(
            model, litert_dir, models, result["reports"], sequence_length))
    return result
