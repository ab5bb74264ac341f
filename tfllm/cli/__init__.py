"""Command-line entry points of tfllm.

Importing this package (every `tfllm` command and `scripts/*.py` does, before
TensorFlow is imported) quiets TensorFlow's native logs:
`tfllm.utils.logging.quiet_native_logs`. `-v`/`--verbose` among the
arguments, or `TFLLM_VERBOSITY=debug|info`, leaves them as TensorFlow prints
them. Importing the library itself (`import tfllm`) changes nothing.
"""

from tfllm.utils.logging import quiet_native_logs as _quiet_native_logs
from tfllm.utils.logging import verbose_requested as _verbose_requested

_quiet_native_logs(verbose=_verbose_requested())
