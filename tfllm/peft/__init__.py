"""Parameter-efficient fine-tuning: LoRA, AdaLoRA, adapters, prefix, prompt.

```python
from tfllm.peft import LoraConfig, apply_peft, save_adapter
apply_peft(model, LoraConfig(r=8, lora_alpha=16))   # freezes the rest
model.fit(...)
save_adapter(model, "runs/x/adapter", base_model_name="minilm")
```
"""

from tfllm.peft.adalora import AdaLoraConfig
from tfllm.peft.adapter import AdapterConfig
from tfllm.peft.base import count_parameters
from tfllm.peft.base import get_peft_state
from tfllm.peft.base import parameter_summary
from tfllm.peft.lora import LoraConfig
from tfllm.peft.lora import LoraLayer
from tfllm.peft.lora import apply_lora
from tfllm.peft.prefix import PrefixConfig
from tfllm.peft.prompt import PromptConfig
from tfllm.peft.registry import METHODS
from tfllm.peft.registry import apply_peft
from tfllm.peft.registry import make_config
from tfllm.peft.saving import disabled
from tfllm.peft.saving import load_adapter
from tfllm.peft.saving import merge
from tfllm.peft.saving import merge_and_unload
from tfllm.peft.saving import save_adapter
from tfllm.peft.saving import unmerge
