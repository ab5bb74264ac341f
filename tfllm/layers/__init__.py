"""Layers that KerasHub and Keras do not provide.

```python
from tfllm.layers import CRF, allowed_transitions
crf = CRF(3, allowed=allowed_transitions(["O", "B-PER", "I-PER"]))
```
"""

from tfllm.layers.crf import CRF
from tfllm.layers.crf import allowed_transitions
from tfllm.layers.crf import crf_log_likelihood
from tfllm.layers.crf import tagging_scheme
from tfllm.layers.crf import viterbi_decode
from tfllm.layers.global_pointer import GlobalPointer
from tfllm.layers.global_pointer import rotary_position_embedding
