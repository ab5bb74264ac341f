"""TFLite / LiteRT conversion of task models, with an accuracy guard.

A task model is exported on token ids: a SavedModel whose `serving_default`
takes the model's int32 inputs (`token_ids`, `padding_mask`, `segment_ids`
and, for NER with casing or lexicon features, `casing_ids`, `lexicon_ids`,
each `[batch, sequence_length]`) and returns float32 `logits`; the TFLite
converter reads it. Tokenization stays outside the `.tflite` file (TFLite
has no tensorflow-text ops): the vocabulary and the preprocessing settings
travel beside it (`tfllm.export.litert_bundle`).

Flavours (see the LiteRT guide,
https://ai.google.dev/edge/litert/models/post_training_quantization):

- `float32`: no quantization.
- `float16`: weights stored as float16, computed in float32.
- `dynamic_int8`: dynamic-range quantization, int8 weights, activations
  quantized on the fly; about 4x smaller than float32.
- `int8`: full-integer quantization: weights and activations int8, scales
  calibrated on a representative dataset of training inputs. Token inputs
  stay int32 (ids are indices, not values: id 199 must reach the embedding
  as 199) and the logits output stays float32.
- `int16x8`: LiteRT's 16x8 mode: int8 weights, int16 activations, same
  calibration. BERT encoders have a few residual channels with values
  ~100x the others (all-MiniLM-L6-v2: up to 223 against a median channel
  range of 2.2 at the feed-forward LayerNorm inputs); one int8 scale per
  tensor leaves the other channels two or three levels, and `int8` loses
  accuracy (9 F1 points on CoNLL-2003). int16 gives them 256x finer
  steps. Traced with `tfllm.export.integer_ops.integer_friendly_layers`
  (ops the 16x8 quantizer accepts). The attention-mask selects
  (`SELECT_V2`, one per layer) have no 16x8 kernel and run in float32
  between a dequantize and a quantize; every other op is integer
  (`float_ops` in the conversion report lists the exceptions).

Collapse checks: the representative dataset yields int32 arrays (float32
ids make the converter fail with "Cannot set tensor: Got value of type
FLOAT32 but expected type INT32"), and every converted model is compared
with the Keras model on a probe set; `CollapsedModelError` is raised (the
file is not written) when the argmax agreement is below `min_agreement`.
"""

import contextlib
import pathlib
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfllm.export.attention import bounded_attention_masks
from tfllm.export.integer_ops import integer_friendly_layers

FLAVOURS = ("float32", "float16", "dynamic_int8", "int8", "int16x8")
CALIBRATED = ("int8", "int16x8")  # flavours with calibrated activations
# Exported unless asked otherwise: `int16x8` is opt-in, its CPU inference is
# ~10x slower than int8 (and its verification on a full split long).
DEFAULT_FLAVOURS = ("float32", "float16", "dynamic_int8", "int8")
MIN_AGREEMENT = 0.95


class CollapsedModelError(ValueError):
    """A converted model disagrees with the Keras model (a collapsed model).

    Attributes:
        report: dict, the refused conversion's report (see
            `convert_checked`).
    """

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


def input_names(model):
    """The task model's input names, in its functional input order."""
    inputs = model.input
    if isinstance(inputs, dict):
        return list(inputs)
    return [t.name.split(":")[0] for t in tf.nest.flatten(inputs)]


def token_id_signature(model, sequence_length=None, batch_size=None):
    """int32 `tf.TensorSpec`s of the model inputs.

    Args:
        model: task model with dict inputs.
        sequence_length: int or None. None: any length (dynamic).
        batch_size: int or None. None: any batch size.

    Returns:
        dict name -> `tf.TensorSpec([batch_size, sequence_length], tf.int32)`.
    """
    return {
        name: tf.TensorSpec([batch_size, sequence_length], tf.int32, name=name)
        for name in input_names(model)
    }


def write_token_id_saved_model(model, path, sequence_length=None,
                               batch_size=None, bounded_masks=False,
                               integer_friendly=False):
    """Writes a SavedModel whose `serving_default` maps token ids to logits.

    Args:
        model: task model (`TokenClassifier`, `TextClassifier`).
        path: str or path. Output folder (overwritten).
        sequence_length, batch_size: int or None; see `token_id_signature`.
        bounded_masks: bool. Trace the attention with bounded padding masks
            (`tfllm.export.attention`), as full-integer quantization needs.

    Returns:
        `pathlib.Path` of the folder. Its signature takes the int32 inputs
        by name and returns `{"logits": float32}`.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(inputs):
        return {"logits": tf.cast(model(inputs, training=False), tf.float32)}

    signature = [token_id_signature(model, sequence_length, batch_size)]
    with (bounded_attention_masks(model) if bounded_masks
          else contextlib.nullcontext()), \
            (integer_friendly_layers(model) if integer_friendly
             else contextlib.nullcontext()):
        # The endpoint is traced inside the block.
        archive.add_endpoint(name="serving_default", fn=serve,
                             input_signature=signature)
        archive.write_out(str(path), verbose=False)
    return pathlib.Path(path)


def representative_dataset(features, num_samples=100, sequence_length=None):
    """A calibration generator over encoded training inputs (int32 ids).

    Args:
        features: dict name -> `tf.RaggedTensor`, list of int sequences or
            int array, `[num_sequences, (length)]` (e.g.
            `EncodedWindows.features`).
        num_samples: int. Sequences used, the first ones.
        sequence_length: int or None. Pad (with 0) to this length for a
            model converted with a fixed length; None keeps each length.

    Returns:
        A callable returning a generator of dicts name -> int32 numpy
        `[1, length]`, as `TFLiteConverter.representative_dataset` wants.
    """
    rows = _rows(features, num_samples, sequence_length)

    def generate():
        for row in rows:
            yield {k: v[None, :] for k, v in row.items()}

    return generate


def _rows(features, limit, sequence_length):
    names = list(features)
    columns = {}
    for name in names:
        value = features[name]
        if isinstance(value, tf.RaggedTensor):
            value = value[:limit].to_list()
        elif isinstance(value, (list, tuple)):
            value = [list(r) for r in value[:limit]]
        else:
            value = [list(r) for r in np.asarray(value)[:limit]]
        columns[name] = value
    rows = []
    for i in range(len(columns[names[0]])):
        row = {}
        for name in names:
            ids = np.asarray(columns[name][i], np.int32)
            if sequence_length is not None:
                if len(ids) > sequence_length:
                    raise ValueError(
                        f"sequence of {len(ids)} tokens is longer than the "
                        f"declared sequence_length {sequence_length}")
                ids = np.pad(ids, (0, sequence_length - len(ids)))
            row[name] = ids
        rows.append(row)
    return rows


def convert(saved_model_dir, flavour, representative=None):
    """Converts a token-id SavedModel to TFLite.

    Args:
        saved_model_dir: str or path, from `write_token_id_saved_model`.
        flavour: one of `FLAVOURS`.
        representative: callable from `representative_dataset`; needed for
            `int8` and `int16x8`.

    Returns:
        bytes: the `.tflite` flatbuffer.

    Raises:
        ValueError: unknown flavour, or `int8`/`int16x8` without a
            representative dataset.
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}: {flavour!r}")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if flavour != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if flavour == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if flavour in CALIBRATED:
        if representative is None:
            raise ValueError(f"{flavour} needs a representative dataset")
        converter.representative_dataset = representative
    if flavour == "int16x8":
        # Float32 kernels only for ops without a 16x8 kernel (the
        # attention-mask selects); `float_ops` reports them.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS]
    if flavour == "int8":
        # Only int8 kernels may be chosen: the converter fails rather than
        # fall back to float for an op without one (it still leaves a few
        # float ops, e.g. LayerNorm `NEG`s: `float_ops` lists them). Inputs
        # (int32 ids) and the float32 logits keep their types.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


class LiteRTModel:
    """Runs a `.tflite` model with the LiteRT interpreter (`ai-edge-litert`).

    `tf.lite.Interpreter` is deprecated; this uses
    `ai_edge_litert.interpreter.Interpreter` and its signature runner, which
    resizes dynamic inputs to each call's shape.

    Args:
        model: bytes (flatbuffer) or a path to a `.tflite` file.
        num_threads: int or None. Interpreter threads.
    """

    def __init__(self, model, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(model, (bytes, bytearray)):
            self.interpreter = Interpreter(
                model_content=bytes(model), num_threads=num_threads)
        else:
            self.interpreter = Interpreter(
                model_path=str(model), num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        self.input_details = self.runner.get_input_details()

    def input_types(self):
        """dict input name -> numpy dtype."""
        return {k: v["dtype"] for k, v in self.input_details.items()}

    def input_shapes(self):
        """dict input name -> shape signature (-1 for dynamic axes)."""
        return {k: list(v["shape_signature"])
                for k, v in self.input_details.items()}

    def float_ops(self):
        """Counts of ops computing in float32 (quantize/dequantize aside).

        Returns:
            dict op name -> count of ops with a float32 input or output,
            not counting `QUANTIZE`/`DEQUANTIZE` (the boundaries). Empty for
            a fully integer model.
        """
        types = {t["index"]: t["dtype"]
                 for t in self.interpreter.get_tensor_details()}
        counts = {}
        for op in self.interpreter._get_ops_details():
            if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
                continue
            tensors = list(op["inputs"]) + list(op["outputs"])
            if any(types.get(i) == np.float32 for i in tensors if i >= 0):
                counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
        return counts

    def __call__(self, inputs):
        """Logits, float32 numpy, for a dict of int32 `[batch, length]`."""
        feed = {k: np.asarray(inputs[k], np.int32) for k in self.input_details}
        return self.runner(**feed)["logits"]


def pad_inputs(inputs, sequence_length):
    """Pads dict of `[batch, length]` int arrays with 0 to `sequence_length`."""
    out = {}
    for name, value in inputs.items():
        value = np.asarray(value, np.int32)
        extra = sequence_length - value.shape[1]
        if extra < 0:
            raise ValueError(f"{value.shape[1]} tokens exceed the model's "
                             f"fixed sequence_length {sequence_length}")
        out[name] = np.pad(value, ((0, 0), (0, extra)))
    return out


def agreement_report(model, lite_model, probe, sequence_length=None):
    """Argmax agreement and max |delta logit| of a converted model.

    The probe rows run one at a time (batch 1), as on a device. For token
    models only real tokens (`padding_mask` 1) are compared.

    Args:
        model: the Keras task model.
        lite_model: `LiteRTModel`.
        probe: list of dicts name -> int32 `[1, length]` (unpadded).
        sequence_length: int or None. The converted model's fixed length.

    Returns:
        dict: `agreement` (fraction), `agreeing`, `compared` (counts),
        `max_abs_logit_diff`; for token models also `tagged_agreement`,
        `tagged_agreeing` and `tagged_compared`, the agreement on the
        tokens the Keras model tags with a label other than id 0 (`O`):
        most tokens are `O`, so `agreement` alone overstates entity quality
        (a full-integer NER model had 0.955 agreement and lost 9 F1 points).
        For a span head (scores `[batch, length, length, types]`) the
        compared items are the (start <= end, type) cells of real tokens,
        agreeing when both scores have the same sign (`> 0` decodes a
        span), and the tagged ones those the Keras model scores `> 0`.
    """
    agreeing, compared, max_diff = 0, 0, 0.0
    tagged_agreeing, tagged = 0, 0
    for inputs in probe:
        length = inputs["token_ids"].shape[1]
        feed = inputs if sequence_length is None else pad_inputs(
            inputs, sequence_length)
        expected = np.asarray(model(feed, training=False), np.float32)
        got = lite_model(feed)
        token_level = expected.ndim >= 3
        if token_level:  # token classification: real tokens only
            keep = np.asarray(feed["padding_mask"], bool)
            keep[:, length:] = False
            if expected.ndim == 4:  # span scores: real cells, start <= end
                keep = (keep[:, :, None] & keep[:, None, :]
                        & np.triu(np.ones(keep.shape[1:] * 2, bool)))
            expected, got = expected[keep], got[keep]
        max_diff = max(max_diff, float(np.abs(expected - got).max()))
        if getattr(model, "span_head", False):
            same = (expected > 0) == (got > 0)  # [cells, types]
            tagged_rows = expected > 0  # spans the Keras model decodes
        else:
            same = expected.argmax(-1) == got.argmax(-1)
            # Tokens the Keras model tags with a label other than id 0
            # (`O` in tfllm's label order), where errors cost F1.
            tagged_rows = expected.argmax(-1) != 0
        agreeing += int(same.sum())
        compared += int(same.size)
        if token_level:
            tagged_agreeing += int(same[tagged_rows].sum())
            tagged += int(tagged_rows.sum())
    report = {
        "agreement": agreeing / max(compared, 1),
        "agreeing": agreeing,
        "compared": compared,
        "max_abs_logit_diff": max_diff,
    }
    if tagged:
        report["tagged_agreement"] = tagged_agreeing / tagged
        report["tagged_agreeing"] = tagged_agreeing
        report["tagged_compared"] = tagged
    return report


def convert_checked(model, flavour, calibration=None, probe=(),
                    sequence_length=None, min_agreement=MIN_AGREEMENT,
                    bounded_masks=None):
    """Converts a task model and refuses a collapsed result.

    Args:
        model: Keras task model.
        flavour: one of `FLAVOURS`.
        calibration: dict of encoded training features (see
            `representative_dataset`); needed for `int8`.
        probe: list of dicts name -> int32 `[1, length]`, compared with the
            Keras model. Empty: no check (not recommended).
        sequence_length: int or None. None: dynamic length.
        min_agreement: float. Lowest argmax agreement accepted.
        bounded_masks: bool or None. Trace attention with bounded padding
            masks (`tfllm.export.attention`); None: for `int8` and
            `int16x8` only (the float flavours keep Keras's exact masks).

    Returns:
        `(flatbuffer bytes, report dict)`; the report holds `flavour`,
        `bytes`, the input dtypes and shapes, `float_ops`
        (`LiteRTModel.float_ops`) and the `agreement_report`.

    Raises:
        CollapsedModelError: agreement, or for token models the agreement
            on tagged (non-O) tokens, below `min_agreement`
            (`check_agreement`).
    """
    representative = None
    if flavour in CALIBRATED:
        if calibration is None:
            raise ValueError(f"{flavour} needs calibration features")
        representative = representative_dataset(
            calibration, sequence_length=sequence_length)
    with tempfile.TemporaryDirectory(prefix="tfllm-tflite-") as folder:
        # Full integer: padded keys' -inf scores would set the int8 scale
        # of the attention scores (BR-09); bound them while tracing.
        write_token_id_saved_model(model, folder, sequence_length,
                                   1 if sequence_length else None,
                                   bounded_masks=(flavour in CALIBRATED
                                                  if bounded_masks is None
                                                  else bounded_masks),
                                   integer_friendly=flavour == "int16x8")
        blob = convert(folder, flavour, representative)
    lite = LiteRTModel(blob)
    report = {
        "flavour": flavour,
        "bytes": len(blob),
        "inputs": {k: str(np.dtype(v)) for k, v in lite.input_types().items()},
        "input_shapes": {k: [int(d) for d in v]
                         for k, v in lite.input_shapes().items()},
        "float_ops": lite.float_ops(),
    }
    if probe:
        report.update(agreement_report(model, lite, probe, sequence_length))
        check_agreement(report, min_agreement)
    return blob, report


def check_agreement(report, min_agreement=MIN_AGREEMENT):
    """Refuses a conversion whose probe agreement is too low.

    Both the argmax agreement over all compared positions and, for token
    models, `tagged_agreement` (the tokens the Keras model tags other than
    `O`) must reach `min_agreement`: most NER tokens are `O`, so a model can
    agree on 95% of tokens and still lose many entities (a full-integer
    CoNLL-2003 model agreed on 95.5% of tokens and lost 9 F1 points).

    Args:
        report: dict from `agreement_report` plus `flavour`.
        min_agreement: float. Lowest agreement accepted on each measure.

    Raises:
        CollapsedModelError: a measure below `min_agreement`; the message
            names it with its counts.
    """
    flavour = report.get("flavour", "converted")
    checks = [("probe argmaxes", report["agreement"], report["agreeing"],
               report["compared"])]
    if report.get("tagged_compared"):
        checks.append(("tagged (non-O) probe tokens",
                       report["tagged_agreement"], report["tagged_agreeing"],
                       report["tagged_compared"]))
    for what, agreement, agreeing, compared in checks:
        if agreement < min_agreement:
            raise CollapsedModelError(
                f"{flavour} TFLite model agrees with the Keras model on "
                f"{agreeing}/{compared} {what} ({agreement:.3f} < "
                f"{min_agreement}); max |delta logit| "
                f"{report['max_abs_logit_diff']:.3g}; not written", report)
