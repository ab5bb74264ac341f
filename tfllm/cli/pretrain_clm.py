"""Causal-LM pre-training of a GPT-2-style decoder on a plain-text corpus.

Trains a byte-level BPE tokenizer on the corpus, builds a GPT-2 of the given
size, pre-trains it on next-token prediction over packed blocks, reports
held-out loss and perplexity after every epoch, prints samples and saves a
KerasHub preset folder (`keras_hub.models.CausalLM.from_preset(folder)`
after `import tfllm.models.causal_lm`, or `load_backbone(folder)`).
"""

import dataclasses
import json
import pathlib
import time

import keras

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.cli.pretrain_mlm import load_documents
from tfllm.cli.pretrain_mlm import run_folder
from tfllm.data.corpus import encode_causal_lm
from tfllm.data.corpus import pack_causal_lm_blocks
from tfllm.data.corpus import tokenize_documents
from tfllm.models.causal_lm import CausalLM
from tfllm.models.causal_lm import new_gpt2_backbone
from tfllm.training.distribute import make_strategy
from tfllm.training.precision import set_precision
from tfllm.training.pretraining import CorpusConfig
from tfllm.training.pretraining import pretrain
from tfllm.training.pretraining import pretraining_summary
from tfllm.training.pretraining import save_pretrained
from tfllm.training.pretraining import sum_loss
from tfllm.training.trainer import TrainingConfig


@dataclasses.dataclass
class CausalLMConfig:
    """The decoder and the samples (flags of `pretrain_clm.py`)."""

    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = dataclasses.field(default=0, metadata={
        "help": "feed-forward width (0: 4 * hidden_dim)"})
    dropout: float = 0.1
    sample_prompts: str = dataclasses.field(default="", metadata={
        "help": "'|'-separated prompts to sample from after training "
                "(default: the first words of three held-out documents)"})
    sample_length: int = dataclasses.field(default=80, metadata={
        "help": "tokens per sample, prompt included"})
    top_k: int = 10


def sample(model, tokenizer, prompts, length, top_k, seed):
    """Top-k samples from `model` (KerasHub `generate`, with a KV cache).

    Returns:
        `(generator, samples)`: the `CausalLM` with a preprocessor that
        generated them and one str (prompt included) per prompt. `length`
        is capped at the backbone's `max_sequence_length`.
    """
    import keras_hub

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
        inside a row written as `\n<|endoftext|>\n` (the spelling of
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


def main(argv=None):
    start = time.perf_counter()
    corpus, config, training = parse_dataclasses(
        [CorpusConfig, CausalLMConfig, TrainingConfig], argv,
        description=__doc__)
    from tfllm.preprocessing.tokenizer_training import (
        byte_level_bpe_tokenizer, train_byte_level_bpe)

    strategy = make_strategy(training.strategy)
    set_precision(training.precision)
    keras.utils.set_random_seed(training.seed)
    train_docs, validation_docs = load_documents(corpus)
    run_dir = run_folder(corpus, "clm")
    began = time.perf_counter()
    vocabulary, merges = train_byte_level_bpe(
        train_docs, corpus.vocabulary_size)
    tokenizer = byte_level_bpe_tokenizer(vocabulary, merges)
    print(f"byte-level BPE of {len(vocabulary)} tokens trained in "
          f"{time.perf_counter() - began:.0f} s")
    length = corpus.sequence_length
    with strategy.scope():
        backbone = new_gpt2_backbone(
            tokenizer.vocabulary_size(), config.num_layers, config.num_heads,
            config.hidden_dim, config.intermediate_dim or None, length,
            config.dropout)
        model = CausalLM(backbone=backbone)
    end_id = tokenizer.end_token_id
    train_encoded = encode_causal_lm(*pack_causal_lm_blocks(
        tokenize_documents(tokenizer, train_docs), length, end_id))
    validation_encoded = encode_causal_lm(*pack_causal_lm_blocks(
        tokenize_documents(tokenizer, validation_docs), length, end_id))
    print(f"{len(train_docs)} training documents -> "
          f"{train_encoded.num_windows} blocks ({train_encoded.num_tokens} "
          f"tokens); {len(validation_docs)} held-out documents -> "
          f"{validation_encoded.num_tokens} tokens; "
          f"{backbone.count_params():,} parameters")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(
        dataclasses.asdict(corpus) | dataclasses.asdict(config),
        indent=2) + "\n")
    with strategy.scope():
        model, history, initial = pretrain(
            model, train_encoded, validation_encoded, training, run_dir,
            sum_loss(), monitor="loss", monitor_mode="min", max_length=length)
    prompts = [p for p in config.sample_prompts.split("|") if p] or [
        " ".join(d.split()[:3]) for d in validation_docs[:3]]
    generator, samples = sample(model, tokenizer, prompts,
                                config.sample_length, config.top_k,
                                training.seed)
    save_dir = pathlib.Path(corpus.save_dir or run_dir / "pretrained")
    save_pretrained(generator, tokenizer, save_dir)
    summary = pretraining_summary(
        history, initial, train_encoded, start, save_dir,
        parameters=backbone.count_params(),
        samples=dict(zip(prompts, samples)))
    (run_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    for prompt, text in zip(prompts, samples):
        print(f"--- sample ({prompt!r}):\n{text}")
    print("summary:", json.dumps(
        {k: v for k, v in summary.items() if k != "samples"}))
    print(f"pre-trained decoder: {save_dir}")
    return run_dir


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
