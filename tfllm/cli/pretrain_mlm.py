"""Masked-LM pre-training of a BERT encoder on a plain-text corpus.

From scratch (no --backbone): trains a WordPiece tokenizer on the corpus,
builds a BERT of the given size and pre-trains it. With --backbone (e.g.
`minilm` or a checkpoint folder): continues masked-LM training of that
encoder on the corpus (domain-adaptive pre-training), with a fresh MLM head
tied to its token embedding. The result is a KerasHub preset folder that
`train_ner.py --backbone <folder>` and `train_classifier.py` accept.
"""

import dataclasses
import datetime
import json
import pathlib
import time

import keras

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.data.corpus import encode_masked_lm
from tfllm.data.corpus import pack_masked_lm_blocks
from tfllm.data.corpus import read_corpora
from tfllm.data.corpus import split_documents
from tfllm.data.corpus import tokenize_documents
from tfllm.models.masked_lm import MaskedLM
from tfllm.models.masked_lm import new_bert_backbone
from tfllm.preprocessing.masking import DynamicMasking
from tfllm.training.distribute import make_strategy
from tfllm.training.precision import set_precision
from tfllm.training.pretraining import CorpusConfig
from tfllm.training.pretraining import pretrain
from tfllm.training.pretraining import pretraining_summary
from tfllm.training.pretraining import save_pretrained
from tfllm.training.pretraining import sum_loss
from tfllm.training.trainer import TrainingConfig


@dataclasses.dataclass
class MaskedLMConfig:
    """The encoder and the masking (flags of `pretrain_mlm.py`)."""

    backbone: str = dataclasses.field(default="", metadata={
        "help": "encoder to continue pre-training ('minilm', a checkpoint "
                "or preset folder); empty: a new BERT of the size below"})
    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = dataclasses.field(default=0, metadata={
        "help": "feed-forward width (0: 4 * hidden_dim)"})
    dropout: float = 0.1
    freeze_backbone: bool = dataclasses.field(default=False, metadata={
        "help": "train only the MLM head (the tied embedding stays too): "
                "the control for domain-adaptive pre-training"})
    mask_rate: float = dataclasses.field(default=0.15, metadata={
        "help": "share of tokens predicted; of those 80%% become [MASK], "
                "10%% a random token, 10%% stay"})


def load_documents(corpus):
    """Train and held-out documents (held-out files or a seeded share)."""
    if not corpus.corpus:
        raise FileNotFoundError("no corpus: pass --corpus FILE[,FILE...]")
    documents = read_corpora(corpus.corpus)
    if corpus.validation_corpus:
        train_docs, _ = split_documents(documents, 0.0, seed=0)
        validation_docs = read_corpora(corpus.validation_corpus)
    else:
        train_docs, validation_docs = split_documents(
            documents, corpus.validation_fraction, seed=0)
    if corpus.max_documents:
        train_docs = train_docs[:corpus.max_documents]
    return train_docs, validation_docs


def run_folder(corpus, prefix):
    name = corpus.run_name or datetime.datetime.now().strftime(
        f"{prefix}-%Y%m%d-%H%M%S")
    return pathlib.Path(corpus.output_dir) / name


def build_encoder(config, corpus, train_docs):
    """`(backbone, tokenizer)`: loaded, or new with a trained WordPiece."""
    from tfllm.backbones import load_backbone
    from tfllm.preprocessing.tokenizer_training import train_wordpiece
    from tfllm.preprocessing.tokenizer_training import wordpiece_tokenizer

    if config.backbone:
        return load_backbone(config.backbone)
    start = time.perf_counter()
    vocabulary = train_wordpiece(
        train_docs, corpus.vocabulary_size, lowercase=corpus.lowercase)
    print(f"WordPiece vocabulary of {len(vocabulary)} trained in "
          f"{time.perf_counter() - start:.0f} s")
    tokenizer = wordpiece_tokenizer(vocabulary, corpus.lowercase)
    backbone = new_bert_backbone(
        len(vocabulary), config.num_layers, config.num_heads,
        config.hidden_dim, config.intermediate_dim or None,
        corpus.sequence_length, config.dropout)
    return backbone, tokenizer


def encode(tokenizer, documents, sequence_length):
    ids = tokenize_documents(tokenizer, documents)
    blocks = pack_masked_lm_blocks(
        ids, sequence_length, tokenizer.cls_token_id, tokenizer.sep_token_id)
    return encode_masked_lm(blocks)


def main(argv=None):
    start = time.perf_counter()
    corpus, config, training = parse_dataclasses(
        [CorpusConfig, MaskedLMConfig, TrainingConfig], argv,
        description=__doc__)
    strategy = make_strategy(training.strategy)
    set_precision(training.precision)
    keras.utils.set_random_seed(training.seed)
    train_docs, validation_docs = load_documents(corpus)
    run_dir = run_folder(corpus, "mlm")
    with strategy.scope():
        backbone, tokenizer = build_encoder(config, corpus, train_docs)
        model = MaskedLM(backbone)
        if config.freeze_backbone:
            backbone.trainable = False
    length = min(corpus.sequence_length, backbone.max_sequence_length)
    train_encoded = encode(tokenizer, train_docs, length)
    validation_encoded = encode(tokenizer, validation_docs, length)
    print(f"{len(train_docs)} training documents -> "
          f"{train_encoded.num_windows} blocks of <= {length} tokens "
          f"({train_encoded.num_tokens} tokens); {len(validation_docs)} "
          f"held-out documents -> {validation_encoded.num_tokens} tokens; "
          f"{backbone.count_params():,} backbone parameters")
    masking = dict(
        vocabulary_size=backbone.vocabulary_size,
        mask_token_id=tokenizer.mask_token_id,
        special_token_ids=tokenizer.special_token_ids,
        sequence_length=length, mask_rate=config.mask_rate)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(
        dataclasses.asdict(corpus) | dataclasses.asdict(config),
        indent=2) + "\n")
    with strategy.scope():
        model, history, initial = pretrain(
            model, train_encoded, validation_encoded, training, run_dir,
            sum_loss(),
            batch_transform=DynamicMasking(**masking, seed=training.seed),
            validation_transform=DynamicMasking(**masking, seed=12345),
            monitor="loss", monitor_mode="min", max_length=length)
    save_dir = pathlib.Path(corpus.save_dir or run_dir / "pretrained")
    save_pretrained(model, tokenizer, save_dir)
    summary = pretraining_summary(
        history, initial, train_encoded, start, save_dir,
        backbone_parameters=backbone.count_params())
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("summary:", json.dumps(summary))
    print(f"pre-trained encoder: {save_dir} (train_ner.py --backbone "
          f"{save_dir})")
    return run_dir


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
