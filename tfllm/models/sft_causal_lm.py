"""Supervised fine-tuning of a causal LM, with generation from the result."""

import weakref

import keras
import numpy as np
import tensorflow as tf

# Imported so that `keras.models.load_model` finds the classes a saved
# SFT model names (its preprocessor and the GGUF chat tokenizer).
import tfllm.generation.chat_tokenizer  # noqa: F401
import tfllm.preprocessing.prompt_response_preprocessor  # noqa: F401
from tfllm.models.task import Task

_GENERATORS = weakref.WeakKeyDictionary()


def keras_hub_causal_lm_class(backbone):
    """The KerasHub `CausalLM` class whose `backbone_cls` is the backbone's.

    Args:
        backbone: a KerasHub decoder backbone (`Llama3Backbone`,
            `GPT2Backbone`, ...).

    Returns:
        A `keras_hub.models.CausalLM` subclass.

    Raises:
        ValueError: KerasHub has no causal LM for this backbone.
    """
    import keras_hub

    pending = [keras_hub.models.CausalLM]
    while pending:
        cls = pending.pop()
        if getattr(cls, "backbone_cls", None) is type(backbone):
            return cls
        pending.extend(cls.__subclasses__())
    raise ValueError(
        f"KerasHub has no causal LM for {type(backbone).__name__}")


@keras.saving.register_keras_serializable(package="tfllm")
class SFTCausalLM(Task):
    """A decoder backbone with its tied LM head, for supervised fine-tuning.

    The logits are the backbone's `sequence_output` projected on the
    (reverse) token embedding, as in KerasHub's causal LMs. Training uses the
    shared `Task.train_step`; with `tfllm.training.train` and the weights of
    `PromptResponsePreprocessor.encode` (1 on response tokens, 0 on prompt
    and padding), the loss is the mean cross-entropy over response tokens
    only.

    For generation, `causal_lm()` returns the matching KerasHub `CausalLM`
    (`call_with_cache`, KV cache) on the same backbone, so fine-tuned weights
    are used without copying.

    Args:
        backbone: a KerasHub decoder backbone whose `token_embedding` is a
            `ReversibleEmbedding` (GPT-2, Llama, Mistral, ...).
        preprocessor: `PromptResponsePreprocessor` or None. Travels with the
            saved model (tokenizer, chat template, sequence length).

    Inputs:
        dict of int32 `token_ids` and `padding_mask`,
        `[batch_size, sequence_length]`.

    Returns:
        float32 logits `[batch_size, sequence_length, vocabulary_size]`.

    This is the public `tfllm.CausalLM`: `from_pretrained` (SmolLM2, a
    GGUF file, a decoder folder, a fine-tuned model), `from_scratch` (a new
    GPT-2 and its byte-level BPE), `fit` on texts (next-token training) or
    prompt/response pairs (supervised fine-tuning), `evaluate` (perplexity)
    and `generate`; `tfllm train clm` and `tfllm train sft` are built on
    them. The `tfllm.models.causal_lm.CausalLM` class is KerasHub's GPT-2
    task with tfllm's step, which `pretrain_clm`'s preset folders name.

    Examples:
    ```python
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32)
    model = SFTCausalLM(backbone)
    generate(model.causal_lm(), [[5, 6, 7]])
    ```

    ```python
    lm = tfllm.CausalLM.from_pretrained("smollm2", sequence_length=256)
    lm.fit([("Where is my order?", "Let me check."), ...], epochs=1)
    lm.generate("Where is my parcel?", max_new_tokens=32)
    ```
    """

    def __init__(self, backbone, preprocessor=None, **kwargs):
        kwargs.pop("id2label", None)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "padding_mask")
        }
        hidden = backbone(inputs)
        if isinstance(hidden, dict):
            hidden = hidden["sequence_output"]
        logits = backbone.token_embedding(hidden, reverse=True)
        logits = keras.ops.cast(logits, "float32")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.id2label = None

    def causal_lm(self):
        """The KerasHub `CausalLM` sharing this model's backbone (cached)."""
        if self not in _GENERATORS:
            cls = keras_hub_causal_lm_class(self.backbone)
            _GENERATORS[self] = cls(self.backbone, preprocessor=None)
        return _GENERATORS[self]

    def get_config(self):
        config = super().get_config()
        config.pop("id2label")
        return config

    # --- Python API (`tfllm.CausalLM`) --------------------------------------

    @classmethod
    def from_pretrained(cls, model="smollm2", *, sequence_length=256,
                        chat_template=None, system_prompt=None, seed=None):
        """A decoder to fine-tune or generate with.

        Args:
            model: str or path. `"smollm2"` (offline SmolLM2-135M-Instruct),
                a `.gguf` file, a Hugging Face or KerasHub decoder folder
                (e.g. what `tfllm train clm` or `save_pretrained` wrote), or
                a fine-tuned model (`model.keras` or its run folder, which
                keeps its own prompt format and sequence length unless
                given here).
            sequence_length: int. Longest prompt + response (or text
                block) in tokens. Default 256.
            chat_template: bool or None. Format prompts with the
                tokenizer's chat template; None: when it has one.
            system_prompt: str or None. System message of every prompt.
            seed: int or None. `keras.utils.set_random_seed` first.

        Returns:
            `SFTCausalLM` (`tfllm.CausalLM`) with its
            `PromptResponsePreprocessor`.

        Raises:
            FileNotFoundError: no such file or folder.
            BackboneNotAvailableError, ValueError: see
                `tfllm.backbones.load_backbone`.
        """
        import pathlib

        from tfllm.preprocessing.prompt_response_preprocessor import (
            PromptResponsePreprocessor,
        )

        if seed is not None:
            keras.utils.set_random_seed(seed)
        path = pathlib.Path(str(model))
        saved = path / "model.keras" if path.is_dir() else path
        if saved.suffix == ".keras" and (saved.is_file() or not path.is_dir()):
            if not saved.is_file():
                raise FileNotFoundError(f"{saved}: no saved model")
            loaded = keras.models.load_model(saved, compile=False)
            if not isinstance(loaded, cls):
                raise ValueError(f"{saved}: not a causal LM "
                                 f"({type(loaded).__name__})")
            preprocessor = loaded.preprocessor
            if chat_template is not None:
                preprocessor.use_chat_template = chat_template
            if system_prompt is not None:
                preprocessor.system_prompt = system_prompt
            return loaded
        from tfllm.backbones import load_backbone

        backbone, tokenizer = load_backbone(str(model))
        return cls(backbone, PromptResponsePreprocessor(
            tokenizer, sequence_length, chat_template, system_prompt))

    @classmethod
    def from_scratch(cls, texts, *, vocabulary_size=8000, num_layers=4,
                     num_heads=4, hidden_dim=256, intermediate_dim=None,
                     dropout=0.1, sequence_length=128, seed=42):
        """A new GPT-2 decoder with a byte-level BPE trained on `texts`.

        Args:
            texts: list of str documents or a corpus path
                (`tfllm.training.pretraining.read_documents`): what the
                tokenizer is trained on.
            vocabulary_size: int. BPE vocabulary size. Default 8000.
            num_layers: int. Transformer layers. Default 4.
            num_heads: int. Attention heads. Default 4.
            hidden_dim: int. Hidden size. Default 256.
            intermediate_dim: int or None. Default `4 * hidden_dim`.
            dropout: float. Default 0.1.
            sequence_length: int. Block length and position embeddings.
                Default 128.
            seed: int or None. Seeds the weights. Default 42 (the
                `TrainingConfig` default, as `tfllm train clm`).

        Returns:
            `SFTCausalLM` (`tfllm.CausalLM`) on a `GPT2Backbone`; its
            preprocessor formats prompts without a chat template.
        """
        import logging
        import time

        from tfllm.models.causal_lm import new_gpt2_backbone
        from tfllm.preprocessing.prompt_response_preprocessor import (
            PromptResponsePreprocessor,
        )
        from tfllm.preprocessing.tokenizer_training import (
            byte_level_bpe_tokenizer,
        )
        from tfllm.preprocessing.tokenizer_training import (
            train_byte_level_bpe,
        )
        from tfllm.training.pretraining import read_documents

        if seed is not None:
            keras.utils.set_random_seed(seed)
        documents = read_documents(texts, "texts")
        start = time.perf_counter()
        tokenizer = byte_level_bpe_tokenizer(
            *train_byte_level_bpe(documents, vocabulary_size))
        logging.getLogger("tfllm").info(
            "byte-level BPE of %d tokens trained in %.0f s",
            tokenizer.vocabulary_size(), time.perf_counter() - start)
        backbone = new_gpt2_backbone(
            tokenizer.vocabulary_size(), num_layers, num_heads, hidden_dim,
            intermediate_dim, sequence_length, dropout)
        return cls(backbone, PromptResponsePreprocessor(
            tokenizer, sequence_length, False))

    @property
    def tokenizer(self):
        """The preprocessor's tokenizer (or None)."""
        return self.preprocessor.tokenizer if self.preprocessor else None

    def _require_preprocessor(self):
        if self.preprocessor is None:
            raise ValueError(
                "this causal LM has no preprocessor (tokenizer): build it "
                "with CausalLM.from_pretrained(...) or from_scratch(...)")
        return self.preprocessor

    def _block_length(self):
        length = self._require_preprocessor().sequence_length
        limit = getattr(self.backbone, "max_sequence_length", None)
        return min(length, limit) if limit else length

    def fit(self, x=None, y=None, batch_size=None, epochs=None, *,
            validation_data=None, run_dir=None, training=None,
            validation_fraction=None, **kwargs):
        """Trains on texts (next-token) or prompt/response pairs (SFT).

        Through `tfllm.training.train`, scored after every epoch, the epoch
        with the lowest held-out loss kept:

        - texts (a list of str, or a corpus path such as `corpus.txt`):
          causal-LM (pre-)training on packed blocks of the preprocessor's
          `sequence_length`, documents separated by the end token; scores
          are `tfllm.evaluation.language_model`'s (loss, perplexity,
          accuracy over every target token).
        - prompt/response pairs (`(prompt, response)` tuples, dicts with
          `prompt`/`response`, `PromptResponse`, or a `.jsonl` path):
          supervised fine-tuning, the loss on response tokens only, prompts
          formatted as at inference (chat template).

        A `tf.data.Dataset` (or arrays) goes to Keras' own `fit`.

        Args:
            x: the training data (above).
            batch_size: int or None (the `TrainingConfig` one).
            epochs: int or None (the `TrainingConfig` one).
            validation_data: the same kind of data; None: a seeded share of
                `x` (`validation_fraction`; texts 0.05 with seed 0, pairs
                0.1 with `training.seed`, as the commands).
            run_dir: str, path or None. Run folder (metrics, checkpoints,
                TensorBoard; an existing run is resumed); None: a temporary
                folder removed afterwards.
            training: `TrainingConfig` or None (its defaults).
            validation_fraction: float or None (above).
            **kwargs: `TrainingConfig` fields overriding `training`.
                `precision` and `strategy` act when the model is built:
                call `tfllm.training.precision.set_precision` first and
                build the model inside `strategy.scope()`.

        Returns:
            list of dict: one record per epoch. `model.last_fit` adds
            `held_out_before` (texts) and the data sizes.

        Raises:
            TypeError: unknown training setting or data.
            DataFormatError: a bad `.jsonl` line (file and line named).
        """
        from tfllm.training.pretraining import is_text_data

        if not is_text_data(x):
            return super().fit(x, y, batch_size=batch_size,
                               epochs=epochs or 1,
                               validation_data=validation_data, **kwargs)
        from tfllm.training.pretraining import training_config

        training = training_config(training, epochs=epochs,
                                   batch_size=batch_size, **kwargs)
        examples = prompt_response_examples(x, "x")
        if examples is None:
            return self._fit_texts(x, validation_data, run_dir, training,
                                   0.05 if validation_fraction is None
                                   else validation_fraction)
        return self._fit_pairs(examples, validation_data, run_dir, training,
                               0.1 if validation_fraction is None
                               else validation_fraction)

    def _fit_texts(self, x, validation_data, run_dir, training, fraction):
        from tfllm.data.corpus import split_documents
        from tfllm.training.pretraining import adopt_weights
        from tfllm.training.pretraining import encode_causal_lm_documents
        from tfllm.training.pretraining import pretrain
        from tfllm.training.pretraining import read_documents
        from tfllm.training.pretraining import run_directory
        from tfllm.training.pretraining import sum_loss

        length = self._block_length()
        tokenizer = self.preprocessor.tokenizer
        documents = read_documents(x, "x")
        if validation_data is None:
            documents, held_out = split_documents(documents, fraction,
                                                  seed=0)
        else:
            held_out = read_documents(validation_data, "validation_data")
        train_encoded = encode_causal_lm_documents(tokenizer, documents,
                                                   length)
        validation_encoded = encode_causal_lm_documents(tokenizer, held_out,
                                                        length)
        with run_directory(run_dir) as folder, \
                self.distribute_strategy.scope():
            trained, history, initial = pretrain(
                self, train_encoded, validation_encoded, training, folder,
                sum_loss(), monitor="loss", monitor_mode="min",
                max_length=length)
            adopt_weights(self, trained)
        self.last_fit = {
            "history": history, "held_out_before": initial,
            "training_documents": len(documents),
            "validation_documents": len(held_out),
            "training_blocks": train_encoded.num_windows,
            "training_tokens": train_encoded.num_tokens,
            "validation_tokens": validation_encoded.num_tokens}
        return history

    def _fit_pairs(self, examples, validation_data, run_dir, training,
                   fraction):
        from tfllm.training.pretraining import adopt_weights
        from tfllm.training.pretraining import run_directory
        from tfllm.training.trainer import train

        preprocessor = self._require_preprocessor()
        if validation_data is None:
            examples, validation = split_examples(examples, fraction,
                                                  training.seed)
        else:
            validation = prompt_response_examples(validation_data,
                                                  "validation_data")
            if validation is None:
                raise TypeError("validation_data: expected prompt/response "
                                "pairs, as x")
        encoded, cut = preprocessor.encode(examples)
        validation_encoded, validation_cut = preprocessor.encode(validation)
        with run_directory(run_dir) as folder, \
                self.distribute_strategy.scope():
            trained, history = train(
                self, encoded, training, folder,
                lambda m: (evaluate_responses(m, validation_encoded), {}),
                # The best epoch is the lowest validation loss (as Hugging
                # Face's Trainer's `eval_loss`): token accuracy ties on
                # small sets.
                "loss", response_loss(), monitor_mode="min")
            adopt_weights(self, trained)
        self.last_fit = {
            "history": history, "training_examples": len(examples),
            "validation_examples": len(validation),
            "validation": validation,
            "response_tokens": int(
                encoded.sample_weight.flat_values.numpy().sum()),
            "responses_cut": cut, "validation_responses_cut": validation_cut}
        return history

    def evaluate(self, x=None, y=None, *, batch_size=8, **kwargs):
        """Held-out loss and perplexity of texts or prompt/response pairs.

        Args:
            x: texts or a corpus path (every next-token target scored,
                `tfllm.evaluation.language_model`: `loss`, `perplexity`,
                `accuracy`, `tokens`), or prompt/response pairs
                (`evaluate_responses`: response tokens only, `loss`,
                `perplexity`, `token_accuracy`, `response_tokens`). A
                `tf.data.Dataset` goes to Keras' own `evaluate`.
            batch_size: int. Default 8.

        Returns:
            dict of scores (above).
        """
        from tfllm.training.pretraining import is_text_data

        if not is_text_data(x):
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        examples = prompt_response_examples(x, "x")
        preprocessor = self._require_preprocessor()
        if examples is not None:
            encoded, _ = preprocessor.encode(examples)
            return evaluate_responses(self, encoded, batch_size)
        from tfllm.data.pipeline import make_dataset
        from tfllm.evaluation.language_model import evaluate_language_model
        from tfllm.training.pretraining import encode_causal_lm_documents
        from tfllm.training.pretraining import read_documents

        length = self._block_length()
        encoded = encode_causal_lm_documents(
            preprocessor.tokenizer, read_documents(x, "x"), length)
        return evaluate_language_model(
            self, make_dataset(encoded, batch_size, length))

    def generate(self, prompts, *, batch_size=8, **config):
        """Continues prompts (formatted as in training: chat template).

        Args:
            prompts: str or list of str.
            batch_size: int. Prompts decoded together. Default 8.
            **config: `tfllm.generation.GenerationConfig` fields
                (`max_new_tokens=32`, `strategy="greedy"|"sample"|"beam"`,
                `temperature`, `top_k`, `top_p`, `num_beams`, `seed`), or
                `config=GenerationConfig(...)`.

        Returns:
            str (one prompt) or list of str: the continuations, without the
            prompt, ending before the end token.
        """
        from tfllm.generation.text import generate_text
        from tfllm.generation.text import generation_config

        single = isinstance(prompts, str)
        texts, _ = generate_text(
            self.causal_lm(), self._require_preprocessor(),
            [prompts] if single else list(prompts),
            generation_config(**config), batch_size)
        return texts[0] if single else texts

    def export(self, folder, format="litert", *, recipes=("dynamic_int8",
               "fp32"), max_length=1024, prefill_lengths=(32, 128)):
        """Exports the decoder for on-device generation (LiteRT).

        One `.tflite` per recipe with `prefill_<N>` and `decode` signatures
        over an explicit KV cache, the tokenizer, the chat template and
        stop tokens in `generation.json`
        (`tfllm.export.litert_causal_lm.export_causal_lm`). Decode it with
        `tfllm.generate(folder, prompts)` or
        `tfllm.generation.litert_text.LiteRTGenerator`.

        Args:
            folder: str or path. The bundle folder (written atomically).
            format: str. `"litert"` (the only one).
            recipes: sequence of str. Of `fp32`, `fp16`, `dynamic_int8`,
                `weight_only_int8`, `dynamic_int4_block{32,64,128}`,
                `dynamic_int4_mlp_int8`; the first is the bundle's default.
            max_length: int. KV cache slots (prompt + generated tokens).
            prefill_lengths: sequence of int. Prefill buckets (tokens).

        Returns:
            dict: the bundle's `generation.json`.

        Raises:
            ValueError: another format, a non-Llama decoder (GPT-2
                decoders are not covered), or a bad recipe.
        """
        from tfllm.export.litert_causal_lm import export_causal_lm

        if format != "litert":
            raise ValueError(f"format: expected 'litert', got {format!r}")
        preprocessor = self._require_preprocessor()
        return export_causal_lm(
            self.causal_lm(), folder, preprocessor.tokenizer, recipes,
            max_length, prefill_lengths,
            use_chat_template=preprocessor.use_chat_template,
            system_prompt=preprocessor.system_prompt)

    def save_pretrained(self, folder):
        """Saves a KerasHub preset folder (decoder with its LM head and the
        tokenizer) that `from_pretrained`, `--backbone` and KerasHub's
        `CausalLM.from_preset` read; returns its path. `model.save(
        "x.keras")` keeps the prompt format too."""
        from tfllm.training.pretraining import save_pretrained

        return save_pretrained(self.causal_lm(),
                               self._require_preprocessor().tokenizer,
                               folder)


def prompt_response_examples(data, what="data"):
    """Prompt/response examples of `data`, or None when it is plain text.

    Args:
        data: a list of `PromptResponse`, `(prompt, response)` pairs or
            dicts with `prompt` and `response` (and optional `system`); a
            `.jsonl` path of such objects; anything else (texts, corpus
            paths) gives None.
        what: str. Names the argument in errors.

    Returns:
        list of `PromptResponse`, or None.

    Raises:
        DataFormatError: a bad `.jsonl` line (file and line named).
        TypeError: a list mixing pairs with other items.
    """
    import pathlib

    from tfllm.data.prompt_response import PromptResponse
    from tfllm.data.prompt_response import read_prompt_response_jsonl

    if isinstance(data, (str, pathlib.PurePath)):
        if str(data).endswith(".jsonl") and "," not in str(data):
            return read_prompt_response_jsonl(data)
        return None
    if not isinstance(data, (list, tuple)) or not data or all(
            isinstance(d, str) for d in data):
        return None
    examples = []
    for index, item in enumerate(data):
        if isinstance(item, PromptResponse):
            examples.append(item)
        elif isinstance(item, dict) and "prompt" in item \
                and "response" in item:
            examples.append(PromptResponse(
                item["prompt"], item["response"], item.get("system")))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            examples.append(PromptResponse(str(item[0]), str(item[1])))
        else:
            raise TypeError(
                f"{what}[{index}]: expected a (prompt, response) pair, a "
                f"dict with 'prompt' and 'response' or a PromptResponse, "
                f"got {type(item).__name__}")
    return examples


def split_examples(examples, fraction, seed):
    """`(train, held_out)`: a seeded shuffle, `fraction` held out (at
    least one example). Raises ValueError when too few remain."""
    import random

    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    held = max(1, round(len(shuffled) * fraction))
    if held >= len(shuffled):
        raise ValueError(f"{len(shuffled)} examples are too few to hold "
                         f"out {fraction:.0%} for validation")
    return shuffled[held:], shuffled[:held]


def response_loss():
    """Token cross-entropy for `tfllm.training.train` (sum of weighted)."""
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")


def evaluate_responses(model, encoded, batch_size=8):
    """Mean loss, perplexity and accuracy over response tokens.

    Args:
        model: `SFTCausalLM`.
        encoded: `EncodedWindows` from `PromptResponsePreprocessor.encode`.
        batch_size: int.

    Returns:
        dict: `loss` (mean cross-entropy per response token, nats),
        `perplexity` (`exp(loss)`), `token_accuracy` (share of response
        tokens whose argmax prediction is right), `response_tokens`.
    """
    from tfllm.data.pipeline import make_dataset

    dataset = make_dataset(encoded, batch_size,
                           model.preprocessor.sequence_length
                           if model.preprocessor else 1 << 30)
    total_loss = total_correct = total_weight = 0.0
    for features, labels, weights in dataset:
        logits = model(features, training=False)
        losses = tf.keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True)
        correct = tf.cast(tf.equal(
            tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        total_loss += float(tf.reduce_sum(losses * weights))
        total_correct += float(tf.reduce_sum(correct * weights))
        total_weight += float(tf.reduce_sum(weights))
    loss = total_loss / max(total_weight, 1.0)
    return {"loss": loss, "perplexity": float(np.exp(min(loss, 50.0))),
            "token_accuracy": total_correct / max(total_weight, 1.0),
            "response_tokens": int(total_weight)}
