"""Causal-LM runs: supervised fine-tuning (`tfllm train sft`) and text
generation (`tfllm generate`).

The commands parse their flags into the dataclasses here and call
`run_finetune` / `run_generation`, which use the Python API
(`tfllm.CausalLM.from_pretrained(...).fit(pairs)`, `tfllm.generate`).
"""

import dataclasses
import datetime
import json
import pathlib
import sys
import time
from typing import Optional

from tfllm.config import help_field as _help

__all__ = ["FinetuneConfig", "GenerateArgs", "read_prompts",
           "run_finetune", "run_generation"]


@dataclasses.dataclass
class FinetuneConfig:
    """What to fine-tune on and where results go (flags of
    `tfllm train sft`)."""

    backbone: str = dataclasses.field(default="smollm2", metadata={
        "help": "decoder to start from: 'smollm2' (offline), a .gguf file, "
                "a Hugging Face or KerasHub decoder folder, or a fine-tuned "
                "model (run folder or .keras)",
        "aliases": ["--model"]})
    train_file: Optional[str] = _help("JSONL of prompt/response objects")
    validation_file: Optional[str] = _help(
        "JSONL for validation; None: hold out --validation-fraction")
    validation_fraction: float = _help("share of train held out", 0.1)
    max_train_examples: int = _help(
        "use only the first N training pairs, after the split (0: all)", 0)
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


def run_finetune(config, training, peft_args=None, log=print):
    """Supervised fine-tuning of a causal LM on prompt/response JSONL.

    The run folder gets `config.json` (and `config.yaml`), `bad_rows.json`,
    the training loop's files, `model.keras` (`tfllm generate --model
    <run folder>`), `samples.jsonl` (generations for the first
    `num_samples` validation prompts) and, with a PEFT method, `adapter/`
    and `peft_summary.json`.

    Args:
        config: `FinetuneConfig`.
        training: `TrainingConfig`.
        peft_args: `tfllm.peft.options.PeftArgs` or None (full fine-tuning).
        log: callable taking one str. Default `print`.

    Returns:
        `(run_dir, history)`: the run folder and the per-epoch records.

    Raises:
        UserInputError: no `train_file`.
        DataFormatError: a bad JSONL line (file and line named), unless
            `skip_bad_rows`.
    """
    from tfllm.data.bad_rows import BadRows
    from tfllm.data.errors import UserInputError
    from tfllm.data.prompt_response import read_prompt_response_jsonl
    from tfllm.models.sft_causal_lm import SFTCausalLM
    from tfllm.models.sft_causal_lm import split_examples
    from tfllm.peft.options import PeftArgs
    from tfllm.peft.options import apply_from_args
    from tfllm.peft.options import save_from_args
    from tfllm.runs.run_config import write_run_config
    from tfllm.utils.atomic import atomic_path

    if not config.train_file:
        raise UserInputError("--train-file is required")
    peft_args = peft_args or PeftArgs()
    run_dir = pathlib.Path(config.output_dir) / (
        config.run_name or datetime.datetime.now().strftime(
            "sft-%Y%m%d-%H%M%S"))
    write_run_config(run_dir, config, training, peft_args,
                     json_settings=(config, peft_args))

    bad_rows = BadRows(config.skip_bad_rows)

    def read(path):
        return read_prompt_response_jsonl(
            path, config.prompt_key, config.response_key, bad_rows=bad_rows)

    train_examples = read(config.train_file)
    if config.validation_file:
        validation = read(config.validation_file)
    else:
        train_examples, validation = split_examples(
            train_examples, config.validation_fraction, training.seed)
    if config.max_train_examples:
        train_examples = train_examples[:config.max_train_examples]
    if bad_rows.count:
        log(f"skipped {bad_rows.count} bad lines (see bad_rows.json)")
    (run_dir / "bad_rows.json").write_text(
        json.dumps(bad_rows.summary(), indent=2) + "\n")

    model = SFTCausalLM.from_pretrained(
        config.backbone, sequence_length=config.sequence_length,
        chat_template=config.chat_template,
        system_prompt=config.system_prompt)
    peft_summary = apply_from_args(model, peft_args)
    if peft_summary:
        log(f"--peft {peft_args.peft}: "
            f"{peft_summary['trainable_parameters']:,} of "
            f"{peft_summary['total_parameters']:,} parameters train "
            f"({peft_summary['trainable_percent']:.3f}%)")
    history = model.fit(train_examples, validation_data=validation,
                        training=training, run_dir=run_dir)
    fit = model.last_fit
    log(f"{fit['training_examples']} training / "
        f"{fit['validation_examples']} validation pairs; "
        f"{fit['response_tokens']} response tokens; responses cut to fit: "
        f"{fit['responses_cut']} / {fit['validation_responses_cut']}")
    with atomic_path(run_dir / "model.keras") as temp:
        model.save(temp)
    peft_summary.update(save_from_args(model, peft_args, run_dir,
                                       config.backbone))
    if peft_summary:
        (run_dir / "peft_summary.json").write_text(
            json.dumps(peft_summary, indent=2) + "\n")

    samples = validation[:config.num_samples]
    texts = model.generate([e.prompt for e in samples],
                           max_new_tokens=config.max_new_tokens) \
        if samples else []
    with open(run_dir / "samples.jsonl", "w", encoding="utf-8") as f:
        for example, text in zip(samples, texts):
            f.write(json.dumps({"prompt": example.prompt,
                                "reference": example.response,
                                "generated": text}) + "\n")
    return run_dir, history


@dataclasses.dataclass
class GenerateArgs:
    """Flags of `tfllm generate` (besides `GenerationConfig`'s)."""

    model: str = _help("'smollm2', a .gguf file, a fine-tuned model "
                       "(.keras or run folder), or a LiteRT bundle folder "
                       "(tfllm export --task causal-lm)", "smollm2")
    engine: Optional[str] = _help(
        "'tf' (TensorFlow) or 'litert' (a LiteRT bundle); default: litert "
        "for a bundle folder, else tf")
    recipe: Optional[str] = _help(
        "litert: which model of the bundle (fp32, dynamic_int8, ...; "
        "default: its first)")
    threads: Optional[int] = _help("litert: CPU threads; none given: every "
                                   "core")
    stream: bool = _help("litert: print tokens as they are generated",
                         False)
    prompt: Optional[str] = _help("one prompt (or give prompts as "
                                  "arguments)")
    input: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "prompts, one per line (.jsonl: the 'prompt' key); '-': "
                "standard input",
        "aliases": ["--prompt-file"]})
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


def read_prompts(path, stdin=None):
    """Prompts of a file: one per non-blank line, or the `prompt` key of
    each JSON object of a `.jsonl` file; `"-"` reads `stdin`.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a `.jsonl` line without a `prompt` (file, line).
    """
    if str(path) == "-":
        stream = stdin or sys.stdin
        return [line.rstrip("\n") for line in stream if line.strip()]
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such prompt file")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    if path.suffix != ".jsonl":
        return lines
    from tfllm.data.errors import DataFormatError

    prompts = []
    for number, line in enumerate(lines, 1):
        try:
            prompts.append(json.loads(line)["prompt"])
        except (ValueError, KeyError, TypeError):
            raise DataFormatError(
                path, number, "expected a JSON object with 'prompt'")
    return prompts


def run_generation(args, config, prompts=None):
    """Continues the prompts of `args` (or `prompts`) with `args.model`.

    Args:
        args: `GenerateArgs`.
        config: `tfllm.generation.GenerationConfig`.
        prompts: list of str or None (the command's arguments), followed
            by `args.prompt` and the lines of `args.input`; with none of
            these, standard input.

    Returns:
        `(prompts, texts, stats)`: stats has `new_tokens` and `seconds`.

    Raises:
        UserInputError: `quantize` other than `int8`.
    """
    from tfllm.data.errors import UserInputError
    from tfllm.generation import text

    prompts = list(prompts or [])
    if args.prompt is not None:
        prompts.append(args.prompt)
    if args.input:
        prompts += read_prompts(args.input)
    if not prompts:
        prompts = read_prompts("-")
    if args.quantize not in (None, "int8"):
        raise UserInputError(
            f"--quantize: expected 'int8', got {args.quantize!r}")
    from tfllm.generation.litert_text import is_litert_bundle

    engine = args.engine or ("litert" if is_litert_bundle(args.model)
                             else "tf")
    if engine not in ("tf", "litert"):
        raise UserInputError(f"--engine: expected 'tf' or 'litert', got "
                             f"{args.engine!r}")
    if engine == "litert":
        if args.quantize:
            raise UserInputError(
                "--quantize: a LiteRT bundle is quantized when it is "
                "exported (tfllm export --recipes ...); pick one with "
                "--recipe")
        return (prompts,) + run_litert_generation(args, config, prompts)
    if is_litert_bundle(args.model):
        raise UserInputError(
            f"--engine tf: {args.model} is a LiteRT bundle; use --engine "
            "litert (or leave --engine out)")
    causal_lm, preprocessor = text.load_generator(
        args.model, args.chat, args.system_prompt)
    if args.quantize:
        causal_lm.quantize(args.quantize)
    texts, stats = text.generate_text(causal_lm, preprocessor, prompts,
                                      config, args.batch_size)
    return prompts, texts, stats


def litert_settings(config):
    """`LiteRTGenerator` keywords from a `GenerationConfig` (greedy or
    sample; beam search is TensorFlow's only)."""
    from tfllm.data.errors import UserInputError

    if config.strategy == "beam":
        raise UserInputError(
            "strategy 'beam': the LiteRT engine decodes greedily or by "
            "sampling; beam search runs on TensorFlow models (a .gguf "
            "file, 'smollm2' or a run folder)")
    return {"max_new_tokens": config.max_new_tokens,
            "temperature": (0.0 if config.strategy == "greedy"
                            else config.temperature),
            "top_k": config.top_k, "top_p": config.top_p,
            "seed": config.seed}


def run_litert_generation(args, config, prompts):
    """`(texts, stats)` of the prompts with a LiteRT bundle (`args.model`);
    with `args.stream` each piece is printed as it comes."""
    from tfllm.data.errors import UserInputError
    from tfllm.generation.litert_text import LiteRTGenerator
    from tfllm.generation.litert_text import is_litert_bundle

    if not is_litert_bundle(args.model):
        raise UserInputError(
            f"--engine litert: {args.model} is not a LiteRT bundle folder "
            "(make one with: tfllm export --task causal-lm --format litert "
            "--model ...)")
    generator = LiteRTGenerator(args.model, args.recipe, args.threads,
                                args.chat, args.system_prompt)
    settings = litert_settings(config)
    texts, new_tokens, start = [], 0, time.perf_counter()
    for prompt in prompts:
        pieces = []
        for piece in generator.stream(prompt, **settings):
            pieces.append(piece)
            if args.stream:
                print(piece, end="", flush=True)
        if args.stream:
            print(flush=True)
        texts.append("".join(pieces))
        new_tokens += generator.last_new_tokens
    return texts, {"new_tokens": new_tokens,
                   "seconds": time.perf_counter() - start,
                   "streamed": bool(args.stream)}
