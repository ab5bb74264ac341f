"""Supervised fine-tuning of a causal LM on prompt/response pairs (JSONL).

The loss is on response tokens only. The default backbone is the offline
SmolLM2-135M-Instruct; prompts are formatted with its chat template, as at
inference. The run folder gets `model.keras` (use it with `tfllm generate
--model <run folder>`), `metrics.jsonl`, TensorBoard logs and
`samples.jsonl` (generations for a few validation prompts).

With `--peft lora` (or another method, `--peft-config` for its settings)
only the method's weights train, the decoder stays frozen, and the run
folder also gets `adapter/` (`adapter.safetensors` + `adapter_config.json`,
a few MB) that `tfllm.peft.saving.load_adapter` puts back on the same base.
Python: `tfllm.CausalLM.from_pretrained("smollm2").fit(pairs)`.
"""

import json

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.peft.options import PeftArgs
from tfllm.runs.causal_lm import FinetuneConfig
from tfllm.training.trainer import TrainingConfig


def main(argv=None):
    from tfllm.runs.causal_lm import run_finetune

    config, training, peft_args = parse_dataclasses(
        [FinetuneConfig, TrainingConfig, PeftArgs], argv,
        description=__doc__)
    run_dir, history = run_finetune(config, training, peft_args)
    print(json.dumps(history[-1] if history else {}, default=str))
    print(f"run folder: {run_dir}")
    return run_dir


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
