"""Layer computations that LiteRT's 16x8 integer quantizer can convert.

LiteRT's 16x8 mode ("int16 activations, int8 weights",
https://ai.google.dev/edge/litert/models/post_training_integer_quant_16x8)
has int16 kernels for fewer ops than int8 mode, and it tries to quantize
every op it sees. Two Keras computations stop it on a BERT encoder:

- `keras.layers.Embedding` looks ids up with `ops.take`, which first maps
  negative ids with int32 `where(i < 0, i + vocabulary, i)`; the quantizer
  asks for a calibration range of those int32 tensors ("Max and min for
  dynamic tensors should be recorded during calibration: Failed for tensor
  serving_default_segment_ids"). Token ids are never negative, so a plain
  `tf.gather` is the same lookup.
- `keras.layers.LayerNormalization` computes the variance with
  `SQUARED_DIFFERENCE`, which has no int16 kernel. The same statistics as
  `mean((x - mean(x)) ** 2)` written with `SUB` and `MUL` convert.

`integer_friendly_layers(model)` swaps these two computations in while a
model is traced for conversion; in float32 the outputs equal the Keras
model's up to rounding (about 1e-6).
"""

import contextlib

import keras
import tensorflow as tf
from keras import ops


def _gather_embedding(layer):
    def call(inputs, *args, **kwargs):
        if kwargs.get("reverse") or (args and args[0]):
            raise NotImplementedError(
                "integer_friendly_layers supports forward embedding lookups")
        ids = tf.cast(inputs, tf.int32)
        return ops.cast(tf.gather(layer.embeddings, ids), layer.compute_dtype)
    return call


def _explicit_layer_norm(layer):
    def call(inputs):
        mean = ops.mean(inputs, axis=-1, keepdims=True)
        centred = inputs - mean
        variance = ops.mean(centred * centred, axis=-1, keepdims=True)
        outputs = centred * ops.rsqrt(variance + layer.epsilon)
        if layer.scale:
            outputs = outputs * layer.gamma
        if layer.center:
            outputs = outputs + layer.beta
        return ops.cast(outputs, layer.compute_dtype)
    return call


@contextlib.contextmanager
def integer_friendly_layers(model):
    """Within the block, `model`'s embeddings and LayerNorms trace as above.

    Trace (export) the model inside the block; the layers get their own
    `call` back on exit, also after an exception. Embeddings with a Keras
    quantization mode, and LayerNorms over other axes than the last or with
    RMS scaling, are left alone.

    Args:
        model: a Keras model (a task model on a KerasHub encoder).

    Yields:
        `(num_embeddings, num_layer_norms)` swapped.
    """
    swapped = []
    embeddings = norms = 0
    for layer in model._flatten_layers(include_self=False):
        if (isinstance(layer, keras.layers.Embedding)
                and getattr(layer, "quantization_mode", None) is None):
            layer.call = _gather_embedding(layer)
            embeddings += 1
        elif (isinstance(layer, keras.layers.LayerNormalization)
              and _is_last_axis(layer)):
            layer.call = _explicit_layer_norm(layer)
            norms += 1
        else:
            continue
        swapped.append(layer)
    try:
        yield embeddings, norms
    finally:
        for layer in swapped:
            del layer.call


def _is_last_axis(layer):
    if getattr(layer, "rms_scaling", False):
        return False
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [
        layer.axis]
    if len(axis) != 1:
        return False
    if axis[0] == -1:
        return True
    try:
        return axis[0] == len(layer.input.shape) - 1
    except (AttributeError, ValueError):  # not called, or shared
        return False
