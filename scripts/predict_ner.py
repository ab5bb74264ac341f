"""Print the entities of raw text: python scripts/predict_ner.py "some text".

Options: --model runs/<name> | saved_models/ner/<version> (default: newest
export), --json.
"""

from tfllm.cli.args import run_cli
from tfllm.cli.predict_ner import main

if __name__ == "__main__":
    run_cli(main)
