"""Causal-LM pre-training of a GPT-2-style decoder on a plain-text corpus.

Trains a byte-level BPE tokenizer on the corpus, builds a GPT-2 of the given
size, pre-trains it on next-token prediction over packed blocks, reports
held-out loss and perplexity after every epoch, prints samples and saves a
KerasHub preset folder (`tfllm.CausalLM.from_pretrained(folder)`,
`keras_hub.models.CausalLM.from_preset(folder)` after
`import tfllm.models.causal_lm`, or `load_backbone(folder)`).
Python: `tfllm.CausalLM.from_scratch(texts, ...)`, then `fit(texts)`.
"""

import json

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.runs.pretraining import CausalLMConfig
from tfllm.runs.pretraining import CorpusConfig
from tfllm.runs.pretraining import render_samples  # noqa: F401 (old home)
from tfllm.training.trainer import TrainingConfig


def main(argv=None):
    from tfllm.runs.pretraining import run_causal_lm

    corpus, config, training = parse_dataclasses(
        [CorpusConfig, CausalLMConfig, TrainingConfig], argv,
        description=__doc__)
    run_dir, summary = run_causal_lm(corpus, config, training)
    for prompt, text in summary["samples"].items():
        print(f"--- sample ({prompt!r}):\n{text}")
    print("summary:", json.dumps(
        {k: v for k, v in summary.items() if k != "samples"}))
    print(f"pre-trained decoder: {summary['pretrained']}")
    return run_dir


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
