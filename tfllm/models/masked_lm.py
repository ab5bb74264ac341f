"""Masked-LM pre-training task: a backbone and a tied masked-LM head."""

import keras
import keras_hub

from tfllm.training.steps import SharedTrainStep


@keras.saving.register_keras_serializable(package="tfllm")
class MaskedLM(SharedTrainStep, keras_hub.models.MaskedLM):
    """An encoder with BERT's masked-LM head, trained by tfllm's step.

    Devlin et al. (2019), "BERT: Pre-training of Deep Bidirectional
    Transformers for Language Understanding", Sec. 3.1 and appendix A: the
    `sequence_output` at each masked position goes through a dense layer
    with GELU, layer normalisation, and a projection onto the vocabulary
    whose weights are the token embedding (tied) plus a bias. This is
    KerasHub's `MaskedLMHead`, as in `keras_hub.models.BertMaskedLM`, on
    any backbone with a `token_embedding` and a `sequence_output`; the
    head starts fresh, so an encoder checkpoint without MLM head weights
    (MiniLM) can be pre-trained further (domain-adaptive pre-training,
    Gururangan et al. 2020).

    The training step is tfllm's (`tfllm.training.steps.train_step`), so
    `tfllm.training.train` drives it like every task; its loss should be a
    Keras loss with `reduction="sum"` and the masked positions' weights.
    The pooled (`[CLS]`) output plays no part and its layer is frozen.

    Args:
        backbone: `keras_hub.models.Backbone` (e.g. `BertBackbone`).
        preprocessor: None. Masking happens in the input pipeline
            (`tfllm.preprocessing.masking.DynamicMasking`).

    Inputs:
        dict with int32 `token_ids`, `padding_mask`, `segment_ids` (if the
        backbone takes them), each `[batch_size, sequence_length]`, and
        `mask_positions` `[batch_size, num_predictions]`.

    Returns:
        logits `[batch_size, num_predictions, vocabulary_size]`.

    Examples:
    ```python
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=16)
    model = MaskedLM(backbone)
    ```
    """

    def __init__(self, backbone, preprocessor=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.masked_lm_head = keras_hub.layers.MaskedLMHead(
            vocabulary_size=backbone.vocabulary_size,
            token_embedding=backbone.token_embedding,
            intermediate_activation="gelu",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=0.02),
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        if getattr(backbone, "pooled_dense", None) is not None:
            backbone.pooled_dense.trainable = False

        # === Functional model ===
        inputs = {
            **backbone.input,
            "mask_positions": keras.Input(
                shape=(None,), dtype="int32", name="mask_positions"),
        }
        sequence = backbone(backbone.input)["sequence_output"]
        outputs = self.masked_lm_head(sequence, inputs["mask_positions"])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)


def new_bert_backbone(vocabulary_size, num_layers=4, num_heads=4,
                      hidden_dim=256, intermediate_dim=None,
                      max_sequence_length=512, dropout=0.1):
    """A randomly initialised `keras_hub.models.BertBackbone`.

    Args:
        vocabulary_size: int.
        num_layers, num_heads, hidden_dim: ints. Defaults 4, 4, 256.
        intermediate_dim: int or None. Default `4 * hidden_dim`.
        max_sequence_length: int. Position embeddings. Default 512.
        dropout: float. Default 0.1.

    Returns:
        `keras_hub.models.BertBackbone`.
    """
    return keras_hub.models.BertBackbone(
        vocabulary_size=vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim or 4 * hidden_dim,
        max_sequence_length=max_sequence_length,
        dropout=dropout,
    )
