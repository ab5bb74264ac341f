"""Supervised fine-tuning of a causal LM on prompt/response pairs.

Usage: python scripts/finetune_clm.py --train-file pairs.jsonl \
           [--backbone smollm2] [--epochs 1] [--batch-size 4] [--help]
"""

from tfllm.cli.args import run_cli
from tfllm.cli.finetune_clm import main

if __name__ == "__main__":
    run_cli(main)
