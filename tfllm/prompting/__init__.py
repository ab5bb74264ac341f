"""Prompt-based zero- and few-shot classification (causal LM or encoder)."""
