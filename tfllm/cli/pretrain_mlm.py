"""Masked-LM pre-training of a BERT encoder on a plain-text corpus.

From scratch (no --backbone): trains a WordPiece tokenizer on the corpus,
builds a BERT of the given size and pre-trains it. With --backbone (e.g.
`minilm` or a checkpoint folder): continues masked-LM training of that
encoder on the corpus (domain-adaptive pre-training), with a fresh MLM head
tied to its token embedding. The result is a KerasHub preset folder that
`train_ner.py --backbone <folder>` and `train_classifier.py` accept.
Python: `tfllm.MaskedLM.from_scratch(...)` / `from_pretrained(...)`, `fit`.
"""

import json

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.runs.pretraining import CorpusConfig
from tfllm.runs.pretraining import MaskedLMConfig
from tfllm.training.trainer import TrainingConfig


def main(argv=None):
    from tfllm.runs.pretraining import run_masked_lm

    corpus, config, training = parse_dataclasses(
        [CorpusConfig, MaskedLMConfig, TrainingConfig], argv,
        description=__doc__)
    run_dir, summary = run_masked_lm(corpus, config, training)
    print("summary:", json.dumps(summary))
    print(f"pre-trained encoder: {summary['pretrained']} (train_ner.py "
          f"--backbone {summary['pretrained']})")
    return run_dir


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
