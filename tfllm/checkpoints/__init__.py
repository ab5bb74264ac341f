"""Reading checkpoints that KerasHub cannot read itself (GGUF)."""
