"""Text generation from causal LMs: samplers, batched decoding, chat."""

from tfllm.generation.chat_tokenizer import ChatTokenizer
from tfllm.generation.config import GenerationConfig
from tfllm.generation.generate import generate
from tfllm.generation.generate import pad_prompts

__all__ = ["ChatTokenizer", "GenerationConfig", "generate", "pad_prompts"]
