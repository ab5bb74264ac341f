"""Distil a fine-tuned teacher run (NER or classifier) into a smaller student.

Usage: python scripts/distill.py --teacher-run runs/<name> --student-layers 3
"""

from tfllm.cli.args import run_cli
from tfllm.cli.distill import main

if __name__ == "__main__":
    run_cli(main)
