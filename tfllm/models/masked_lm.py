"""Masked-LM pre-training task: a backbone and a tied masked-LM head."""

import dataclasses
import logging
import time

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

    The Python API (`tfllm.MaskedLM`), on which `tfllm train mlm` is built:
    ```python
    mlm = tfllm.MaskedLM.from_pretrained("minilm", sequence_length=128)
    mlm.fit("domain.txt", epochs=3, learning_rate=5e-5, run_dir="runs/dapt")
    mlm.evaluate(held_out_texts)  # {"loss", "perplexity", "accuracy", ...}
    mlm.save_pretrained("models/minilm-domain")  # for --backbone
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
        self._text = None

    # --- Python API -------------------------------------------------------

    @classmethod
    def from_pretrained(cls, backbone="minilm", *, sequence_length=128,
                        mask_rate=0.15, freeze_backbone=False, seed=None):
        """An encoder to continue pre-training, with a fresh tied MLM head.

        Domain-adaptive pre-training (Gururangan et al. 2020): the head
        starts fresh, so an encoder saved without MLM head (MiniLM) works.

        Args:
            backbone: str. Any name or folder `--backbone` takes
                (`"minilm"`, a KerasHub preset or checkpoint folder, a
                folder saved by `save_pretrained`). Default `"minilm"`.
            sequence_length: int. Longest block of tokens (capped at the
                backbone's `max_sequence_length`). Default 128.
            mask_rate: float. Share of tokens predicted. Default 0.15.
            freeze_backbone: bool. Train only the MLM head (the tied
                embedding stays too). Default False.
            seed: int or None. Seeds the head's weights (and everything
                after, `keras.utils.set_random_seed`).

        Returns:
            `MaskedLM` with its tokenizer attached.

        Raises:
            BackboneNotAvailableError, ValueError: see
                `tfllm.backbones.load_backbone`.
        """
        from tfllm.backbones import load_backbone

        if seed is not None:
            keras.utils.set_random_seed(seed)
        encoder, tokenizer = load_backbone(backbone)
        model = cls(encoder)
        if freeze_backbone:
            encoder.trainable = False
        model._text = _TextSettings(tokenizer, sequence_length, mask_rate)
        return model

    @classmethod
    def from_scratch(cls, texts, *, vocabulary_size=8000, lowercase=True,
                     num_layers=4, num_heads=4, hidden_dim=256,
                     intermediate_dim=None, dropout=0.1,
                     sequence_length=128, mask_rate=0.15, seed=42):
        """A new BERT with a WordPiece vocabulary trained on `texts`.

        Args:
            texts: list of str documents or a corpus path
                (`tfllm.training.pretraining.read_documents`): what the
                tokenizer is trained on (usually the training documents).
            vocabulary_size: int. WordPiece vocabulary size. Default 8000.
            lowercase: bool. Default True.
            num_layers: int. Transformer layers. Default 4.
            num_heads: int. Attention heads. Default 4.
            hidden_dim: int. Hidden size. Default 256.
            intermediate_dim: int or None. Default `4 * hidden_dim`.
            dropout: float. Default 0.1.
            sequence_length: int. Longest block (and position
                embeddings). Default 128.
            mask_rate: float. Share of tokens predicted. Default 0.15.
            seed: int or None. Seeds the weights. Default 42 (the
                `TrainingConfig` default, as `tfllm train mlm`).

        Returns:
            `MaskedLM` with its tokenizer attached.
        """
        from tfllm.preprocessing.tokenizer_training import train_wordpiece
        from tfllm.preprocessing.tokenizer_training import (
            wordpiece_tokenizer,
        )
        from tfllm.training.pretraining import read_documents

        if seed is not None:
            keras.utils.set_random_seed(seed)
        documents = read_documents(texts, "texts")
        start = time.perf_counter()
        vocabulary = train_wordpiece(documents, vocabulary_size,
                                     lowercase=lowercase)
        logging.getLogger("tfllm").info(
            "WordPiece vocabulary of %d trained in %.0f s", len(vocabulary),
            time.perf_counter() - start)
        tokenizer = wordpiece_tokenizer(vocabulary, lowercase)
        encoder = new_bert_backbone(
            len(vocabulary), num_layers, num_heads, hidden_dim,
            intermediate_dim, sequence_length, dropout)
        model = cls(encoder)
        model._text = _TextSettings(tokenizer, sequence_length, mask_rate)
        return model

    @property
    def tokenizer(self):
        """The tokenizer of `from_pretrained`/`from_scratch` (or None)."""
        return self._text.tokenizer if self._text else None

    def _settings(self):
        if self._text is None:
            raise ValueError(
                "this MaskedLM has no tokenizer: build it with "
                "MaskedLM.from_pretrained(...) or MaskedLM.from_scratch(...)"
                " to fit or evaluate on texts")
        length = min(self._text.sequence_length,
                     self.backbone.max_sequence_length)
        return self._text, length

    def _masking(self, length, seed):
        from tfllm.preprocessing.masking import DynamicMasking

        text = self._text
        return DynamicMasking(
            vocabulary_size=self.backbone.vocabulary_size,
            mask_token_id=text.tokenizer.mask_token_id,
            special_token_ids=text.tokenizer.special_token_ids,
            sequence_length=length, mask_rate=text.mask_rate, seed=seed)

    def fit(self, x=None, y=None, batch_size=None, epochs=None, *,
            validation_data=None, run_dir=None, training=None,
            validation_fraction=0.05, **kwargs):
        """Pre-trains on texts through `tfllm.training.train`.

        Texts are packed into `[CLS] ... [SEP]` blocks of the model's
        `sequence_length`; a new random mask is drawn for every batch
        (`DynamicMasking`, seeded by `training.seed`); held-out texts are
        scored after every epoch with a fixed mask, and the epoch with the
        lowest held-out loss is kept. A `tf.data.Dataset` (or arrays) goes
        to Keras' own `fit`, unchanged.

        Args:
            x: list of str documents, or a corpus path
                (`tfllm.training.pretraining.read_documents`).
            batch_size: int or None (the `TrainingConfig` one).
            epochs: int or None (the `TrainingConfig` one).
            validation_data: held-out texts or corpus path; None: a
                seeded `validation_fraction` share of `x` (seed 0).
            run_dir: str, path or None. Run folder (metrics, checkpoints,
                TensorBoard; an existing run is resumed); None: a
                temporary folder removed afterwards.
            training: `TrainingConfig` or None (its defaults).
            validation_fraction: float. Default 0.05.
            **kwargs: `TrainingConfig` fields overriding `training`
                (`learning_rate=3e-3`, `seed=0`, ...). `precision` and
                `strategy` act when the model is built: call
                `tfllm.training.precision.set_precision` first and build
                the model inside `strategy.scope()`.

        Returns:
            list of dict: one record per epoch (`epoch`, `loss`,
            `val_loss`, `val_perplexity`, `val_accuracy`, ...). Also
            `model.last_fit`: that list as `history`, `held_out_before`
            (scores before training), `training_blocks`,
            `training_tokens`, `validation_tokens`.

        Raises:
            TypeError: an unknown training setting.
            ValueError: no tokenizer (see `from_pretrained`).
        """
        from tfllm.training.pretraining import is_text_data

        if not is_text_data(x):
            return super().fit(x, y, batch_size=batch_size,
                               epochs=epochs or 1,
                               validation_data=validation_data, **kwargs)
        from tfllm.data.corpus import split_documents
        from tfllm.training.pretraining import adopt_weights
        from tfllm.training.pretraining import encode_masked_lm_documents
        from tfllm.training.pretraining import pretrain
        from tfllm.training.pretraining import read_documents
        from tfllm.training.pretraining import run_directory
        from tfllm.training.pretraining import sum_loss
        from tfllm.training.pretraining import training_config

        training = training_config(training, epochs=epochs,
                                   batch_size=batch_size, **kwargs)
        text, length = self._settings()
        documents = read_documents(x, "x")
        if validation_data is None:
            documents, held_out = split_documents(
                documents, validation_fraction, seed=0)
        else:
            held_out = read_documents(validation_data, "validation_data")
        train_encoded = encode_masked_lm_documents(
            text.tokenizer, documents, length)
        validation_encoded = encode_masked_lm_documents(
            text.tokenizer, held_out, length)
        with run_directory(run_dir) as folder, \
                self.distribute_strategy.scope():
            trained, history, initial = pretrain(
                self, train_encoded, validation_encoded, training, folder,
                sum_loss(),
                batch_transform=self._masking(length, training.seed),
                validation_transform=self._masking(length, 12345),
                monitor="loss", monitor_mode="min", max_length=length)
            adopt_weights(self, trained)
        self.last_fit = {
            "history": history, "held_out_before": initial,
            "training_documents": len(documents),
            "validation_documents": len(held_out),
            "training_blocks": train_encoded.num_windows,
            "training_tokens": train_encoded.num_tokens,
            "validation_tokens": validation_encoded.num_tokens,
            "sequence_length": length}
        return history

    def evaluate(self, x=None, y=None, *, batch_size=32, **kwargs):
        """Held-out loss, perplexity and accuracy on masked positions.

        Args:
            x: list of str documents or a corpus path; a `tf.data.Dataset`
                (or arrays) goes to Keras' own `evaluate`.
            batch_size: int. Blocks per batch. Default 32.

        Returns:
            dict (`tfllm.evaluation.language_model.evaluate_language_model`):
            `loss` (nats per masked token), `perplexity`, `accuracy`,
            `tokens`. The mask is drawn with a fixed seed (12345, as the
            per-epoch scores of `fit`), so repeated calls agree.
        """
        from tfllm.training.pretraining import is_text_data

        if not is_text_data(x):
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        from tfllm.data.pipeline import make_dataset
        from tfllm.evaluation.language_model import evaluate_language_model
        from tfllm.training.pretraining import encode_masked_lm_documents
        from tfllm.training.pretraining import read_documents

        text, length = self._settings()
        encoded = encode_masked_lm_documents(
            text.tokenizer, read_documents(x, "x"), length)
        dataset = make_dataset(encoded, batch_size, length,
                               batch_transform=self._masking(length, 12345))
        return evaluate_language_model(self, dataset)

    def save_pretrained(self, folder):
        """Saves a KerasHub preset folder (encoder, MLM head, tokenizer)
        that `--backbone`, `MaskedLM.from_pretrained` and
        `TokenClassifier`/`TextClassifier` take; returns its path."""
        from tfllm.training.pretraining import save_pretrained

        self._settings()
        return save_pretrained(self, self._text.tokenizer, folder)


@dataclasses.dataclass
class _TextSettings:
    """What fitting on texts needs besides the weights (not saved with
    the Keras model; `save_pretrained` saves the tokenizer)."""

    tokenizer: object
    sequence_length: int = 128
    mask_rate: float = 0.15


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
