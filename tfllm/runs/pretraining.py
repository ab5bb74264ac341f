"""Pre-training runs (`tfllm train mlm`, `tfllm train clm`): corpus, run
folder, the model's own `fit`, the saved preset and `summary.json`.

The commands parse their flags into the dataclasses here and call
`run_masked_lm` / `run_causal_lm`; both build the model with the Python API
(`tfllm.MaskedLM.from_scratch` / `from_pretrained`, `tfllm.CausalLM.
from_scratch`) and train it with its `fit`, so a run from Python with the
same settings and seed gives the same losses.
"""

import dataclasses
import datetime
import json
import pathlib
import time

import keras

from tfllm.config import help_field
from tfllm.training.pretraining import CorpusConfig
from tfllm.training.trainer import TrainingConfig

__all__ = ["CausalLMConfig", "CorpusConfig", "MaskedLMConfig",
           "TrainingConfig", "load_documents", "render_samples",
           "run_causal_lm", "run_folder", "run_masked_lm", "sample"]


@dataclasses.dataclass
class MaskedLMConfig:
    """The encoder and the masking (flags of `tfllm train mlm`)."""

    backbone: str = help_field(
        "encoder to continue pre-training ('minilm', a checkpoint or preset "
        "folder); empty: a new BERT of the size below", "")
    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = help_field(
        "feed-forward width (0: 4 * hidden_dim)", 0)
    dropout: float = 0.1
    freeze_backbone: bool = help_field(
        "train only the MLM head (the tied embedding stays too): the "
        "control for domain-adaptive pre-training", False)
    mask_rate: float = help_field(
        "share of tokens predicted; of those 80%% become [MASK], 10%% a "
        "random token, 10%% stay", 0.15)


@dataclasses.dataclass
class CausalLMConfig:
    """The decoder and the samples (flags of `tfllm train clm`)."""

    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = help_field(
        "feed-forward width (0: 4 * hidden_dim)", 0)
    dropout: float = 0.1
    sample_prompts: str = help_field(
        "'|'-separated prompts to sample from after training (default: the "
        "first words of three held-out documents)", "")
    sample_length: int = help_field("tokens per sample, prompt included", 80)
    top_k: int = 10


def load_documents(corpus):
    """Train and held-out documents of a `CorpusConfig`.

    Held-out files (`validation_corpus`) or a seeded share
    (`validation_fraction`, seed 0) of the corpus; the training documents
    are shuffled (seed 0) and cut to `max_train_examples`.

    Raises:
        FileNotFoundError: no corpus given, or a file is missing.
    """
    from tfllm.data.corpus import read_corpora
    from tfllm.data.corpus import split_documents

    if not corpus.corpus:
        raise FileNotFoundError("no corpus: pass --corpus FILE[,FILE...]")
    documents = read_corpora(corpus.corpus)
    if corpus.validation_corpus:
        train_docs, _ = split_documents(documents, 0.0, seed=0)
        validation_docs = read_corpora(corpus.validation_corpus)
    else:
        train_docs, validation_docs = split_documents(
            documents, corpus.validation_fraction, seed=0)
    if corpus.max_train_examples:
        train_docs = train_docs[:corpus.max_train_examples]
    return train_docs, validation_docs


def run_folder(corpus, prefix):
    """`<output_dir>/<run_name or prefix-date-time>` (not created)."""
    name = corpus.run_name or datetime.datetime.now().strftime(
        f"{prefix}-%Y%m%d-%H%M%S")
    return pathlib.Path(corpus.output_dir) / name


def _prepare(training):
    from tfllm.training.distribute import make_strategy
    from tfllm.training.precision import set_precision

    strategy = make_strategy(training.strategy)
    set_precision(training.precision)
    keras.utils.set_random_seed(training.seed)
    return strategy


def _describe(fit, parameters):
    return (f"{fit['training_documents']} training documents -> "
            f"{fit['training_blocks']} blocks ({fit['training_tokens']} "
            f"tokens); {fit['validation_documents']} held-out documents -> "
            f"{fit['validation_tokens']} tokens; {parameters:,} parameters")


def _summary(model, start, save_dir, **extra):
    from tfllm.training.pretraining import pretraining_summary

    fit = model.last_fit
    return pretraining_summary(fit["history"], fit["held_out_before"],
                               fit["training_tokens"], start, save_dir,
                               **extra)


def run_masked_lm(corpus, config, training, log=print):
    """A masked-LM pre-training run (`tfllm train mlm`).

    From scratch (empty `config.backbone`): a WordPiece vocabulary trained
    on the training documents and a new BERT; with a backbone: continued
    pre-training with a fresh tied MLM head. The run folder gets
    `config.json` (and `config.yaml`), the training loop's files,
    `summary.json` and `pretrained/` (a KerasHub preset folder that
    `--backbone` takes; `corpus.export_dir` to put it elsewhere).

    Args:
        corpus: `CorpusConfig`.
        config: `MaskedLMConfig`.
        training: `TrainingConfig`.
        log: callable taking one str (progress lines). Default `print`.

    Returns:
        `(run_dir, summary)`: the run folder and the `summary.json` dict.
    """
    from tfllm.models.masked_lm import MaskedLM
    from tfllm.runs.run_config import write_run_config

    start = time.perf_counter()
    strategy = _prepare(training)
    train_docs, validation_docs = load_documents(corpus)
    run_dir = run_folder(corpus, "mlm")
    with strategy.scope():
        if config.backbone:
            model = MaskedLM.from_pretrained(
                config.backbone, sequence_length=corpus.sequence_length,
                mask_rate=config.mask_rate,
                freeze_backbone=config.freeze_backbone)
        else:
            model = MaskedLM.from_scratch(
                train_docs, vocabulary_size=corpus.vocabulary_size,
                lowercase=corpus.lowercase, num_layers=config.num_layers,
                num_heads=config.num_heads, hidden_dim=config.hidden_dim,
                intermediate_dim=config.intermediate_dim or None,
                dropout=config.dropout,
                sequence_length=corpus.sequence_length,
                mask_rate=config.mask_rate, seed=None)
            if config.freeze_backbone:
                model.backbone.trainable = False
    write_run_config(run_dir, corpus, config, training,
                     json_settings=(corpus, config))
    model.fit(train_docs, validation_data=validation_docs,
              training=training, run_dir=run_dir)
    parameters = model.backbone.count_params()
    log(_describe(model.last_fit, parameters))
    save_dir = pathlib.Path(corpus.export_dir or run_dir / "pretrained")
    model.save_pretrained(save_dir)
    summary = _summary(model, start, save_dir,
                                  backbone_parameters=parameters)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return run_dir, summary


def sample(model, tokenizer, prompts, length, top_k, seed):
    """Top-k samples from a GPT-2 decoder (KerasHub `generate`, KV cache).

    Args:
        model: a model with a `GPT2Backbone` as `backbone`
            (`tfllm.CausalLM`).
        tokenizer: its byte-level BPE tokenizer.
        prompts: list of str.
        length: int. Tokens per sample, prompt included; capped at the
            backbone's `max_sequence_length`.
        top_k: int.
        seed: int. Seeds the sampler.

    Returns:
        `(generator, samples)`: the KerasHub `CausalLM` with a preprocessor
        that generated them and one str (prompt included) per prompt.
    """
    import keras_hub

    from tfllm.models.causal_lm import CausalLM

    length = min(length, model.backbone.max_sequence_length)
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer, sequence_length=length)
    generator = CausalLM(backbone=model.backbone, preprocessor=preprocessor)
    generator.compile(
        sampler=keras_hub.samplers.TopKSampler(k=top_k, seed=seed))
    # No stop token: a document boundary does not end a sample early. The
    # token ids are rendered here, not by the preprocessor, which would drop
    # the end-of-text token and glue the next document to the last one.
    inputs = preprocessor.generate_preprocess(prompts, sequence_length=length)
    generator.preprocessor = None
    try:
        outputs = generator.generate(inputs, stop_token_ids=None)
    finally:
        generator.preprocessor = preprocessor
    return generator, render_samples(tokenizer, outputs)


def render_samples(tokenizer, outputs):
    """Generated token ids as text, with document boundaries visible.

    Args:
        tokenizer: the byte-level BPE tokenizer (GPT-2 style), whose
            `end_token_id` separates documents in pre-training.
        outputs: dict with `token_ids` and `padding_mask`, each
            `[num_samples, length]` (KerasHub `generate` without a
            preprocessor). Each row starts with the start token.

    Returns:
        list of str: the tokens after the start token, an end-of-text token
        inside a row written as `\\n<|endoftext|>\\n` (the spelling of
        GPT-2's samples).
    """
    import numpy as np

    end = tokenizer.end_token_id
    ids = np.asarray(outputs["token_ids"])
    mask = np.asarray(outputs["padding_mask"]).astype(bool)
    texts = []
    for row, keep in zip(ids, mask):
        row = row[keep][1:].tolist()  # without the start token
        pieces, piece = [], []
        for token in row:
            if token == end:
                pieces.append(piece)
                piece = []
            else:
                piece.append(token)
        pieces.append(piece)
        texts.append(f"\n{tokenizer.end_token}\n".join(
            _text(tokenizer.detokenize(p)) if p else "" for p in pieces))
    return texts


def _text(value):
    value = value.numpy() if hasattr(value, "numpy") else value
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def run_causal_lm(corpus, config, training, log=print):
    """A causal-LM pre-training run of a new GPT-2 (`tfllm train clm`).

    A byte-level BPE trained on the training documents, a new GPT-2
    (`tfllm.CausalLM.from_scratch`) trained with its `fit` on packed
    next-token blocks, top-k samples after training, and a KerasHub preset
    folder (`pretrained/`, or `corpus.export_dir`).

    Args:
        corpus: `CorpusConfig`.
        config: `CausalLMConfig`.
        training: `TrainingConfig`.
        log: callable taking one str. Default `print`.

    Returns:
        `(run_dir, summary)`; `summary["samples"]` maps prompt to sample.
    """
    from tfllm.models.sft_causal_lm import SFTCausalLM
    from tfllm.runs.run_config import write_run_config

    start = time.perf_counter()
    strategy = _prepare(training)
    train_docs, validation_docs = load_documents(corpus)
    run_dir = run_folder(corpus, "clm")
    with strategy.scope():
        model = SFTCausalLM.from_scratch(
            train_docs, vocabulary_size=corpus.vocabulary_size,
            num_layers=config.num_layers, num_heads=config.num_heads,
            hidden_dim=config.hidden_dim,
            intermediate_dim=config.intermediate_dim or None,
            dropout=config.dropout, sequence_length=corpus.sequence_length,
            seed=None)
    write_run_config(run_dir, corpus, config, training,
                     json_settings=(corpus, config))
    model.fit(train_docs, validation_data=validation_docs,
              training=training, run_dir=run_dir)
    parameters = model.backbone.count_params()
    log(_describe(model.last_fit, parameters))
    prompts = [p for p in config.sample_prompts.split("|") if p] or [
        " ".join(d.split()[:3]) for d in validation_docs[:3]]
    generator, samples = sample(model, model.tokenizer, prompts,
                                config.sample_length, config.top_k,
                                training.seed)
    from tfllm.training.pretraining import save_pretrained

    save_dir = pathlib.Path(corpus.export_dir or run_dir / "pretrained")
    save_pretrained(generator, model.tokenizer, save_dir)
    summary = _summary(
        model, start, save_dir, parameters=parameters,
        samples=dict(zip(prompts, samples)))
    (run_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return run_dir, summary
