"""Text in, text out with a LiteRT generation bundle
(`tfllm export --task causal-lm --format litert`).

The bundle's tokenizer (a KerasHub tokenizer, so TensorFlow is imported for
tokenization) formats and encodes prompts with the chat template the model
was exported with; `tfllm.inference.litert_lm.LiteRTCausalLM` decodes.
"""

import json
import pathlib

from tfllm.inference.litert_lm import LiteRTCausalLM


def is_litert_bundle(path):
    """Whether `path` is a folder holding a LiteRT generation bundle."""
    path = pathlib.Path(str(path))
    if not (path / "generation.json").is_file():
        return False
    try:
        settings = json.loads((path / "generation.json").read_text())
    except ValueError:
        return False
    return settings.get("format") == "tfllm-litert-causal-lm"


def detokenize_text(tokenizer, token_ids):
    """`tokenizer.detokenize(token_ids)` as str (KerasHub tokenizers give
    a string tensor outside the eager Python path; invalid UTF-8 becomes
    U+FFFD)."""
    text = tokenizer.detokenize(token_ids)
    if not isinstance(text, str):
        text = text.numpy().decode("utf-8", "replace")
    return text


class LiteRTGenerator:
    """Generates text with a LiteRT bundle: prompt format, stop tokens,
    sampling and streaming.

    Args:
        folder: str or path. The bundle folder.
        recipe: str or None. Which model of the bundle (`fp32`,
            `dynamic_int8`, `dynamic_int4_block32`, ...); None: its first.
        num_threads: int or None. CPU threads (None: every core).
        chat: bool or None. Format prompts with the chat template; None:
            as exported (the template when the tokenizer has one).
        system_prompt: str or None. System message of chat prompts.

    Raises:
        FileNotFoundError: not a bundle folder.
        ValueError: the bundle has no tokenizer, or no model for `recipe`.
    """

    def __init__(self, folder, recipe=None, num_threads=None, chat=None,
                 system_prompt=None):
        from tfllm.export.litert_causal_lm import load_bundle_tokenizer
        from tfllm.preprocessing.prompt_response_preprocessor import (
            PromptResponsePreprocessor,
        )

        self.engine = LiteRTCausalLM(folder, num_threads, recipe)
        settings = self.engine.settings
        self.tokenizer = load_bundle_tokenizer(folder)
        if self.tokenizer is None:
            raise ValueError(f"{folder}: the bundle has no tokenizer; use "
                             "LiteRTCausalLM with token ids")
        if chat is None:
            chat = settings.get("use_chat_template")
        if system_prompt is None:
            system_prompt = settings.get("system_prompt")
        self.preprocessor = PromptResponsePreprocessor(
            self.tokenizer, self.engine.max_length, chat, system_prompt)
        self.stop_token_ids = settings.get("stop_token_ids", [])
        self.defaults = {"max_new_tokens": 32, "temperature": 0.0,
                         "top_k": 0, "top_p": 1.0}
        self.defaults.update(settings.get("generation_defaults") or {})
        self.last_new_tokens = 0

    def stream(self, prompt, **settings):
        """Yields the continuation of one prompt as text pieces.

        Args:
            prompt: str.
            **settings: `max_new_tokens`, `temperature` (0: greedy),
                `top_k`, `top_p`, `seed` (bundle defaults otherwise).

        Raises:
            CacheFullError: the prompt plus `max_new_tokens` do not fit the
                exported cache.
        """
        options = {**self.defaults, **settings}
        ids = self.preprocessor.prompt_ids([prompt])[0]
        produced, shown, text = [], "", ""
        self.last_new_tokens = 0
        for token in self.engine.stream(
                ids, stop_token_ids=self.stop_token_ids, **options):
            self.last_new_tokens += 1
            if token in self.stop_token_ids:
                break
            produced.append(token)
            text = detokenize_text(self.tokenizer, produced)
            if text.endswith("\ufffd"):  # maybe an incomplete character
                continue
            yield text[len(shown):]
            shown = text
        if len(text) > len(shown):  # what never completed, as decoded
            yield text[len(shown):]


    def generate(self, prompts, **settings):
        """Continuations of a str (returns str) or a list of str."""
        single = isinstance(prompts, str)
        texts = ["".join(self.stream(p, **settings))
                 for p in ([prompts] if single else prompts)]
        return texts[0] if single else texts
