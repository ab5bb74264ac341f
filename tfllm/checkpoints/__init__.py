"""Reading checkpoints that KerasHub cannot read itself (GGUF, 4-bit e5,
PyTorch `pytorch_model.bin` zip files)."""
