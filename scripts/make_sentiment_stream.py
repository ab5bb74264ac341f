"""Build a seeded evaluation stream (PhraseBank + negative bursts).

Usage: python scripts/make_sentiment_stream.py --seed 0 \
           --output-dir sentiment_stream [--help]
"""

from tfllm.cli.args import run_cli
from tfllm.cli.make_sentiment_stream import main

if __name__ == "__main__":
    run_cli(main)
