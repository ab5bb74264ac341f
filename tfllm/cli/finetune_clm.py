"""Supervised fine-tuning of a causal LM on prompt/response pairs (JSONL).

The loss is on response tokens only. The default model is the offline
SmolLM2-135M-Instruct; prompts are formatted with its chat template, as at
inference. The run folder gets `model.keras` (use it with `tfllm-generate
--model <run folder>`), `metrics.jsonl`, TensorBoard logs and
`samples.jsonl` (generations for a few validation prompts).

With `--peft lora` (or another method, `--peft-config` for its settings)
only the method's weights train, the decoder stays frozen, and the run
folder also gets `adapter/` (`adapter.safetensors` + `adapter_config.json`,
a few MB) that `tfllm.peft.saving.load_adapter` puts back on the same base.
"""

import dataclasses
import datetime
import json
import pathlib
import random
from typing import Optional

from tfllm.cli.args import help_field as _help
from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.peft.options import PeftArgs
from tfllm.peft.options import apply_from_args
from tfllm.peft.options import save_from_args
from tfllm.training.trainer import TrainingConfig


@dataclasses.dataclass
class FinetuneConfig:
    """What to fine-tune on and where results go (flags)."""

    model: str = _help("'smollm2' (offline), a .gguf file or a Hugging "
                       "Face decoder checkpoint folder", "smollm2")
    train_file: Optional[str] = _help("JSONL of prompt/response objects")
    validation_file: Optional[str] = _help(
        "JSONL for validation; None: hold out --validation-fraction")
    validation_fraction: float = _help("share of train held out", 0.1)
    prompt_key: str = _help("JSON key of the prompt", "prompt")
    response_key: str = _help("JSON key of the response", "response")
    sequence_length: int = _help("longest prompt + response in tokens", 256)
    chat_template: Optional[bool] = _help(
        "format prompts with the chat template (default: when the "
        "tokenizer has one)")
    system_prompt: Optional[str] = _help("system message of every prompt")
    skip_bad_rows: bool = _help("skip and count bad lines", False)
    output_dir: str = _help("parent of run folders", "runs")
    run_name: Optional[str] = _help("run folder name (default: sft-<time>)")
    num_samples: int = _help("validation prompts to generate for", 3)
    max_new_tokens: int = _help("tokens per sample generation", 48)


def _split(examples, fraction, seed):
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    held = max(1, round(len(shuffled) * fraction))
    if held >= len(shuffled):
        raise ValueError(f"{len(shuffled)} examples are too few to hold "
                         f"out {fraction:.0%} for validation")
    return shuffled[held:], shuffled[:held]


def main(argv=None):
    from tfllm.backbones import load_backbone
    from tfllm.data.bad_rows import BadRows
    from tfllm.data.prompt_response import read_prompt_response_jsonl
    from tfllm.generation import GenerationConfig
    from tfllm.generation.text import generate_text
    from tfllm.models.sft_causal_lm import SFTCausalLM
    from tfllm.models.sft_causal_lm import evaluate_responses
    from tfllm.models.sft_causal_lm import response_loss
    from tfllm.preprocessing.prompt_response_preprocessor import (
        PromptResponsePreprocessor,
    )
    from tfllm.training.trainer import train
    from tfllm.utils.atomic import atomic_path

    config, training, peft_args = parse_dataclasses(
        [FinetuneConfig, TrainingConfig, PeftArgs], argv,
        description=__doc__)
    if not config.train_file:
        raise SystemExit("error: --train-file is required")
    run_dir = pathlib.Path(config.output_dir) / (
        config.run_name or datetime.datetime.now().strftime(
            "sft-%Y%m%d-%H%M%S"))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(
        dataclasses.asdict(config) | dataclasses.asdict(peft_args),
        indent=2) + "\n")

    bad_rows = BadRows(config.skip_bad_rows)
    read = lambda path: read_prompt_response_jsonl(  # noqa: E731
        path, config.prompt_key, config.response_key, bad_rows=bad_rows)
    train_examples = read(config.train_file)
    if config.validation_file:
        validation = read(config.validation_file)
    else:
        train_examples, validation = _split(
            train_examples, config.validation_fraction, training.seed)
    if bad_rows.count:
        print(f"skipped {bad_rows.count} bad lines (see bad_rows.json)")
    (run_dir / "bad_rows.json").write_text(
        json.dumps(bad_rows.summary(), indent=2) + "\n")

    backbone, tokenizer = load_backbone(config.model)
    preprocessor = PromptResponsePreprocessor(
        tokenizer, config.sequence_length, config.chat_template,
        config.system_prompt)
    encoded, cut = preprocessor.encode(train_examples)
    validation_encoded, validation_cut = preprocessor.encode(validation)
    print(f"{len(train_examples)} training / {len(validation)} validation "
          f"pairs; {int(encoded.sample_weight.flat_values.numpy().sum())} "
          f"response tokens; responses cut to fit: {cut} / {validation_cut}")
    model = SFTCausalLM(backbone, preprocessor)
    peft_summary = apply_from_args(model, peft_args)
    if peft_summary:
        print(f"--peft {peft_args.peft}: "
              f"{peft_summary['trainable_parameters']:,} of "
              f"{peft_summary['total_parameters']:,} parameters train "
              f"({peft_summary['trainable_percent']:.3f}%)")
    model, history = train(
        model, encoded, training, run_dir,
        lambda m: (evaluate_responses(m, validation_encoded), {}),
        # The best epoch is the lowest validation loss (as Hugging Face's
        # Trainer's `eval_loss`): token accuracy ties on small sets.
        "loss", response_loss(), monitor_mode="min")
    with atomic_path(run_dir / "model.keras") as temp:
        model.save(temp)
    peft_summary.update(save_from_args(model, peft_args, run_dir,
                                       config.model))
    if peft_summary:
        (run_dir / "peft_summary.json").write_text(
            json.dumps(peft_summary, indent=2) + "\n")

    samples = validation[:config.num_samples]
    texts, _ = generate_text(
        model.causal_lm(), preprocessor, [e.prompt for e in samples],
        GenerationConfig(max_new_tokens=config.max_new_tokens))
    with open(run_dir / "samples.jsonl", "w", encoding="utf-8") as f:
        for example, text in zip(samples, texts):
            f.write(json.dumps({"prompt": example.prompt,
                                "reference": example.response,
                                "generated": text}) + "\n")
    print(json.dumps(history[-1] if history else {}, default=str))
    print(f"run folder: {run_dir}")
    return run_dir


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
