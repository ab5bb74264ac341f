"""Export a run folder (SavedModel for TF Serving, TFLite/LiteRT) and verify.

Usage: python scripts/export.py --run-dir runs/<name> [--help]
"""

from tfllm.cli.args import run_cli
from tfllm.cli.export import main

if __name__ == "__main__":
    run_cli(main)
