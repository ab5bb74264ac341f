"""Fine-tune an encoder for text classification and export it.

Usage: python scripts/train_classifier.py --dataset banking77 [--epochs 3]
       python scripts/train_classifier.py --train-file data.csv \
           --text-column text --label-column label [--help]
"""

from tfllm.cli.args import run_cli
from tfllm.cli.train_classifier import main

if __name__ == "__main__":
    run_cli(main)
