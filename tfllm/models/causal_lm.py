"""Causal-LM (next-token) task: KerasHub's GPT-2 LM on tfllm's step."""

import keras
import keras_hub

from tfllm.training.steps import SharedTrainStep


@keras.saving.register_keras_serializable(package="tfllm")
class CausalLM(SharedTrainStep, keras_hub.models.GPT2CausalLM):
    """A GPT-2 decoder with a tied LM head, trained by tfllm's step.

    Radford et al. (2019), "Language Models are Unsupervised Multitask
    Learners": logits at position `t` predict token `t + 1`. This is
    `keras_hub.models.GPT2CausalLM` (so `call_with_cache`, `_build_cache`,
    `generate` and `score` are KerasHub's) with tfllm's training step
    (`tfllm.training.steps.train_step`). The model does not shift labels:
    the input pipeline gives inputs and targets already shifted once
    (`tfllm.data.corpus.pack_causal_lm_blocks`), so they are shifted
    exactly once.

    Args:
        backbone: `keras_hub.models.GPT2Backbone`.
        preprocessor: `keras_hub.models.GPT2CausalLMPreprocessor` or None.
            Training passes token ids, so it is None there; attach one (or
            build a second `CausalLM` on the same backbone) to `generate`
            from strings.

    Inputs:
        dict with int32 `token_ids` and `padding_mask`,
        `[batch_size, sequence_length]`.

    Returns:
        logits `[batch_size, sequence_length, vocabulary_size]`.
    """


def new_gpt2_backbone(vocabulary_size, num_layers=4, num_heads=4,
                      hidden_dim=256, intermediate_dim=None,
                      max_sequence_length=256, dropout=0.1):
    """A randomly initialised `keras_hub.models.GPT2Backbone`.

    Args:
        vocabulary_size: int.
        num_layers, num_heads, hidden_dim: ints. Defaults 4, 4, 256.
        intermediate_dim: int or None. Default `4 * hidden_dim`.
        max_sequence_length: int. Position embeddings. Default 256.
        dropout: float. Default 0.1.

    Returns:
        `keras_hub.models.GPT2Backbone`.
    """
    return keras_hub.models.GPT2Backbone(
        vocabulary_size=vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim or 4 * hidden_dim,
        max_sequence_length=max_sequence_length,
        dropout=dropout,
    )
