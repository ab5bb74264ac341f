"""The `--peft` flags shared by the training commands."""

import dataclasses
import pathlib
from typing import Optional

from tfllm.peft.base import count_parameters
from tfllm.peft.registry import METHODS
from tfllm.peft.registry import apply_peft
from tfllm.peft.registry import make_config
from tfllm.peft.registry import parse_options
from tfllm.peft.saving import save_adapter

ADAPTER_DIR = "adapter"


@dataclasses.dataclass
class PeftArgs:
    """Parameter-efficient fine-tuning (flags of every training command)."""

    peft: Optional[str] = dataclasses.field(default=None, metadata={
        "help": f"fine-tune with {', '.join(METHODS)} instead of all "
                "weights (the backbone is frozen, the head trains)"})
    peft_config: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "the method's settings as key=value pairs (list items "
                "joined by +), JSON or a JSON file, e.g. "
                "r=8,lora_alpha=16,target_modules=query+value"})


def apply_from_args(model, args):
    """Applies `args.peft` to `model`; returns the summary fields.

    Raises:
        SystemExit: an unknown method or setting (the message lists the
            known ones).
    """
    if not args.peft:
        return {}
    try:
        config = make_config(args.peft, parse_options(args.peft_config))
        apply_peft(model, config)
    except ValueError as e:
        raise SystemExit(f"error: --peft {args.peft}: {e}") from None
    trainable, total = count_parameters(model)
    return {"peft": config.to_dict(), "trainable_parameters": trainable,
            "total_parameters": total,
            "trainable_percent": 100.0 * trainable / total}


def save_from_args(model, args, run_dir, backbone_name):
    """Writes `<run_dir>/adapter/`; returns its size fields (or {})."""
    if not args.peft:
        return {}
    folder = save_adapter(model, pathlib.Path(run_dir) / ADAPTER_DIR,
                          base_model_name=backbone_name)
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"adapter saved to {folder} ({size / 1e6:.2f} MB)")
    return {"adapter_dir": str(folder), "adapter_bytes": size}
