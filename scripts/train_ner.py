"""Fine-tune an encoder for NER on CoNLL-2003 and export it for TF Serving.

Usage: python scripts/train_ner.py [--help] [--epochs 3] [--backbone minilm]
"""

from tfllm.cli.args import run_cli
from tfllm.cli.train_ner import main

if __name__ == "__main__":
    run_cli(main)
