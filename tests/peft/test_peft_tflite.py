"""A merged LoRA model converts to TFLite with no LoRA tensors.

Only the graph is compared: in this TensorFlow 2.21 build the TFLite
interpreter returns NaN for KerasHub's BERT with or without LoRA (seen
here on the plain tiny backbone), so values are not compared.
"""

import numpy as np
import tensorflow as tf

from tfllm.peft import apply_peft
from tfllm.peft.lora import LoraConfig
from tfllm.peft.saving import merged_for_export
from tiny import tiny_backbone


def _tflite(backbone):
    spec = tf.TensorSpec([1, 6], tf.int32)

    @tf.function(input_signature=[spec, spec])
    def forward(token_ids, padding_mask):
        return backbone({"token_ids": token_ids, "padding_mask": padding_mask,
                         "segment_ids": tf.zeros_like(token_ids)},
                        training=False)["sequence_output"]

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [forward.get_concrete_function()], backbone)
    return converter.convert()


def _tensors(flatbuffer):
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    return interpreter, interpreter.get_tensor_details()


def test_tflite_holds_no_lora():
    ids = np.array([[2, 5, 6, 7, 3, 0]], np.int32)
    mask = np.array([[1, 1, 1, 1, 1, 0]], np.int32)
    _, plain = _tensors(_tflite(tiny_backbone()))
    model = apply_peft(tiny_backbone(), LoraConfig(r=2), verbose=False)
    for v in model.peft_state.peft_variables():
        v.assign(np.random.default_rng(0).normal(0, 0.2, v.shape))
    expected = model({"token_ids": ids, "padding_mask": mask,
                      "segment_ids": np.zeros_like(ids)})["sequence_output"]
    with merged_for_export(model):
        flatbuffer = _tflite(model)
    _, tensors = _tensors(flatbuffer)
    assert not [t["name"] for t in tensors if "lora" in t["name"].lower()]
    assert len(tensors) == len(plain)
    # The model is restored exactly after the merged export.
    np.testing.assert_array_equal(
        model({"token_ids": ids, "padding_mask": mask,
               "segment_ids": np.zeros_like(ids)})["sequence_output"],
        expected)
