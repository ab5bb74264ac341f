"""Generate text with a causal LM: SmolLM2 (offline), a GGUF file or a
fine-tuned model. Prompts come from --prompt, --prompt-file (one per line,
or JSONL with a "prompt" key) or standard input."""

import dataclasses
import json
import pathlib
import sys
from typing import Optional

from tfllm.cli.args import help_field as _help
from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.generation.config import GenerationConfig


@dataclasses.dataclass
class GenerateArgs:
    """Flags of `tfllm-generate` (besides `GenerationConfig`'s)."""

    model: str = _help("'smollm2', a .gguf file, or a fine-tuned model "
                       "(.keras or run folder)", "smollm2")
    prompt: Optional[str] = _help("one prompt")
    prompt_file: Optional[str] = _help(
        "prompts, one per line (.jsonl: the 'prompt' key)")
    chat: Optional[bool] = _help(
        "format prompts with the chat template (default: when the model "
        "has one)")
    system_prompt: Optional[str] = _help("system message of chat prompts")
    batch_size: int = _help("prompts decoded together", 8)
    quantize: Optional[str] = _help(
        "'int8': Keras int8 quantization of the dense and embedding layers "
        "(weights ~4x smaller in memory; on CPUs decoding is slower and "
        "perplexity a little higher, BENCHMARKS.md)")
    json: bool = _help("print one JSON object per prompt", False)


def _prompts(args):
    if args.prompt is not None:
        return [args.prompt]
    if args.prompt_file:
        path = pathlib.Path(args.prompt_file)
        lines = [l for l in path.read_text(encoding="utf-8").splitlines()
                 if l.strip()]
        if path.suffix == ".jsonl":
            from tfllm.data.errors import DataFormatError

            prompts = []
            for number, line in enumerate(lines, 1):
                try:
                    prompts.append(json.loads(line)["prompt"])
                except (ValueError, KeyError, TypeError):
                    raise DataFormatError(
                        path, number, "expected a JSON object with 'prompt'")
            return prompts
        return lines
    return [line.rstrip("\n") for line in sys.stdin if line.strip()]


def main(argv=None):
    from tfllm.generation.text import generate_text
    from tfllm.generation.text import load_generator

    args, config = parse_dataclasses(
        [GenerateArgs, GenerationConfig], argv, description=__doc__)
    prompts = _prompts(args)
    if args.quantize not in (None, "int8"):
        from tfllm.data.errors import UserInputError

        raise UserInputError(
            f"--quantize: expected 'int8', got {args.quantize!r}")
    causal_lm, preprocessor = load_generator(
        args.model, args.chat, args.system_prompt)
    if args.quantize:
        causal_lm.quantize(args.quantize)
    texts, stats = generate_text(causal_lm, preprocessor, prompts, config,
                                 args.batch_size)
    for prompt, text in zip(prompts, texts):
        if args.json:
            print(json.dumps({"prompt": prompt, "completion": text}))
        else:
            print(text)
    print(f"{stats['new_tokens']} new tokens in {stats['seconds']:.1f} s "
          f"({stats['new_tokens'] / max(stats['seconds'], 1e-9):.1f} "
          "tokens/s, tracing and XLA compiling included)", file=sys.stderr)
    return texts


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
