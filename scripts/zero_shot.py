r"""Zero- and few-shot text classification with a prompt or an encoder.

Usage: python scripts/zero_shot.py --model smollm2 --labels negative,positive \
           --template "Review: {text}\nSentiment:" --input reviews.txt
       python scripts/zero_shot.py --model minilm --dataset banking77 [--help]
"""

from tfllm.cli.args import run_cli
from tfllm.cli.zero_shot import main

if __name__ == "__main__":
    run_cli(main)
