"""Thin wrapper: see tfllm/cli/pretrain_mlm.py."""

from tfllm.cli.args import run_cli
from tfllm.cli.pretrain_mlm import main

if __name__ == "__main__":
    run_cli(main)
