"""Generate text with a causal LM: SmolLM2 (offline), a GGUF file, a
fine-tuned model or a LiteRT bundle (`--engine litert`, `--stream`). Prompts come as arguments (`tfllm generate "Once upon"`),
from --prompt, from --input FILE (one per line, or JSONL with a "prompt"
key; '-' = standard input) or, with none of these, standard input.
Python: `tfllm.generate(model, prompts, max_new_tokens=...)`."""

import dataclasses
import json
import sys

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.generation.config import GenerationConfig
from tfllm.runs.causal_lm import GenerateArgs

_VALUELESS = {"-v", "--verbose", "-h", "--help"}


def split_prompts(argv, classes):
    """`(flags, prompts)`: the positional prompts taken out of `argv`.

    A word not starting with '-' is a prompt unless it is the value of the
    flag before it (every flag takes one value except booleans, `--no-*`,
    `--flag=value` and `-v`/`--verbose`). Words after `--` are prompts.
    """
    booleans = set()
    for cls in classes:
        for field in dataclasses.fields(cls):
            kind = field.type
            kind = kind.__name__ if isinstance(kind, type) else str(kind)
            if "bool" in kind:
                name = "--" + field.name.replace("_", "-")
                booleans |= {name, "--no-" + name[2:]}
    flags, prompts = [], []
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            prompts += words[index + 1:]
            break
        if word.startswith("-") and len(word) > 1:
            flags.append(word)
            takes_value = ("=" not in word and word not in booleans
                           and word not in _VALUELESS)
            if takes_value and index + 1 < len(words):
                flags.append(words[index + 1])
                index += 1
        else:
            prompts.append(word)
        index += 1
    return flags, prompts


def main(argv=None):
    from tfllm.runs.causal_lm import run_generation

    argv = sys.argv[1:] if argv is None else list(argv)
    flags, prompts = split_prompts(argv, [GenerateArgs, GenerationConfig])
    args, config = parse_dataclasses(
        [GenerateArgs, GenerationConfig], flags, description=__doc__)
    prompts, texts, stats = run_generation(args, config, prompts)
    for prompt, text in zip(prompts, texts):
        if stats.get("streamed") and not args.json:
            continue  # already printed piece by piece
        if args.json:
            print(json.dumps({"prompt": prompt, "completion": text}))
        else:
            print(text)
    what = ("LiteRT, prompt processing included" if "streamed" in stats
            else "tracing and XLA compiling included")
    print(f"{stats['new_tokens']} new tokens in {stats['seconds']:.1f} s "
          f"({stats['new_tokens'] / max(stats['seconds'], 1e-9):.1f} "
          f"tokens/s, {what})", file=sys.stderr)
    return texts


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
