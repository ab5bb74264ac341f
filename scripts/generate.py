"""Generate text with SmolLM2 (offline), a GGUF file or a fine-tuned model.

Usage: python scripts/generate.py "The capital of France is" \
           --no-chat --max-new-tokens 16
       python scripts/generate.py --prompt "Where is my order?" \
           --strategy sample --top-p 0.9 --temperature 0.7 --seed 1
"""

from tfllm.cli.args import run_cli
from tfllm.cli.generate import main

if __name__ == "__main__":
    run_cli(main)
