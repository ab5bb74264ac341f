"""Text generation from causal LMs: samplers, batched decoding, chat."""

from tfllm.generation.config import GenerationConfig
from tfllm.generation.generate import generate
from tfllm.generation.generate import pad_prompts

__all__ = ["GenerationConfig", "generate", "pad_prompts"]
