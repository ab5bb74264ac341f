"""Numeric precision of training: fp32, or Keras mixed precision policies.

`mixed_float16` and `mixed_bfloat16` compute in 16 bits and keep variables
in float32 (Micikevicius et al. 2018, "Mixed Precision Training"). Task heads
and losses stay in float32 (see `TokenClassifier`). With `mixed_float16`,
`Model.compile` wraps the optimizer in a `LossScaleOptimizer` (dynamic loss
scaling), which `tfllm.training.steps.train_step` uses.
"""

import keras

PRECISIONS = {
    "fp32": "float32",
    "mixed_float16": "mixed_float16",
    "mixed_bfloat16": "mixed_bfloat16",
}


def set_precision(name):
    """Sets Keras' global dtype policy; call before building the model.

    Args:
        name: str. `"fp32"`, `"mixed_float16"` or `"mixed_bfloat16"`.

    Returns:
        str: the policy name now in force.

    Raises:
        ValueError: unknown name.
    """
    if name not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {sorted(PRECISIONS)}, got {name!r}"
        )
    keras.mixed_precision.set_dtype_policy(PRECISIONS[name])
    return PRECISIONS[name]
