"""Print the label of raw text: python scripts/predict_classifier.py "text".

Options: --model runs/<name> | saved_models/<name>[/<version>] (default:
newest classifier export), --text-pair, --json.
"""

from tfllm.cli.args import run_cli
from tfllm.cli.predict_classifier import main

if __name__ == "__main__":
    run_cli(main)
