"""Settings of one text generation: strategy, length, sampling filters."""

import dataclasses

from tfllm.config import help_field

STRATEGIES = ("greedy", "sample", "beam")


@dataclasses.dataclass
class GenerationConfig:
    """How `tfllm.generation.generate` chooses tokens.

    Attributes:
        max_new_tokens: int. Tokens generated after each prompt (fewer when a
            stop token comes first).
        strategy: str. `greedy` (argmax), `sample` (draw from the
            temperature-scaled distribution, filtered by `top_k`/`top_p`) or
            `beam` (beam search with `num_beams` beams).
        temperature: float. Divides the logits before sampling or scoring
            beams; greedy decoding ignores it.
        top_k: int. `sample` only: keep the `top_k` most likely tokens
            (0: all).
        top_p: float. `sample` only: keep the smallest most-likely set with
            probability mass >= `top_p` (1.0: all).
        num_beams: int. `beam` only: beams kept per prompt.
        seed: int. Seeds sampling; the same seed repeats a generation.
        use_cache: bool. Reuse attention keys/values of earlier positions
            (KV cache); False recomputes the whole sequence every step.
    """

    max_new_tokens: int = help_field(
        "tokens generated after each prompt (fewer at a stop token)", 32)
    strategy: str = help_field(
        "greedy (argmax), sample (temperature, --top-k, --top-p) or beam "
        "(--num-beams; TensorFlow engine only)", "greedy")
    temperature: float = help_field(
        "divides the logits before sampling; greedy ignores it", 1.0)
    top_k: int = help_field("sample: keep the k most likely tokens (0: all)",
                            0)
    top_p: float = help_field(
        "sample: keep the smallest most-likely set with this probability "
        "mass (1.0: all)", 1.0)
    num_beams: int = help_field("beam: beams kept per prompt", 4)
    seed: int = help_field("seeds sampling; the same seed repeats a draw", 0)
    use_cache: bool = help_field(
        "reuse the keys/values of earlier positions (KV cache); "
        "--no-use-cache recomputes the whole sequence each step", True)

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be one of {STRATEGIES}, got {self.strategy!r}"
            )
        if self.max_new_tokens < 1:
            raise ValueError(
                f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {self.num_beams}")
        if self.temperature <= 0:
            raise ValueError(
                f"temperature must be > 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
