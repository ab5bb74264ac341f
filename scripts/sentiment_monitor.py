"""Monitor timestamped texts for bursts of negative sentiment.

Usage: python scripts/sentiment_monitor.py --input stream.jsonl \
           --model saved_models/fpb --output-dir monitor [--follow] [--help]
"""

from tfllm.cli.args import run_cli
from tfllm.cli.sentiment_monitor import main

if __name__ == "__main__":
    run_cli(main)
