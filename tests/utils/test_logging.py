"""Quiet native logs for the CLI, the `tfllm` logger (issue 27, item 3)."""

import logging
import os
import pathlib
import subprocess
import sys

import pytest

from tfllm.utils.logging import get_logger
from tfllm.utils.logging import is_native_log_line
from tfllm.utils.logging import set_verbosity
from tfllm.utils.logging import verbose_requested

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Lines TensorFlow 2.21 printed at the start of `scripts/train_ner.py`.
NATIVE = [
    "WARNING: All log messages before absl::InitializeLog() is called are "
    "written to STDERR\n",
    "I0000 00:00:1796568738.797544    6450 port.cc:153] oneDNN custom "
    "operations are on.\n",
    "E0000 00:00:1796568744.516963    6450 cuda_platform.cc:52] failed call "
    "to cuInit: INTERNAL: CUDA error (303)\n",
    "W0000 00:00:1796568756.737824    7117 dataset.cc:997] Input of Window "
    "will not be optimized\n",
    "I1206 14:52:13.123456  6450 root_dataset.cc:167] Optimization loop "
    "failed: CANCELLED\n",
    "To enable the following instructions: AVX2 AVX512F FMA, in other "
    "operations, rebuild TensorFlow.\n",
]


def _python(code, env=None, args=()):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("TF_CPP_MIN_LOG_LEVEL", "TFLLM_VERBOSITY",
                            "GRPC_VERBOSITY")}
    environ["PYTHONPATH"] = str(ROOT)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True,
        env=environ, timeout=300, check=True)


@pytest.mark.parametrize("line", NATIVE)
def test_native_lines_are_recognised(line):
    assert is_native_log_line(line)


@pytest.mark.parametrize("line", [
    "Traceback (most recent call last):\n",
    "<string>:6: UserWarning: mine\n",
    "tfllm WARNING: this run makes only 12 optimizer updates\n",
    "E0000 is not a log line without its time\n",
])
def test_other_lines_are_kept(line):
    assert not is_native_log_line(line)


def test_verbose_requested():
    assert verbose_requested(["--epochs", "1", "-v"], {})
    assert verbose_requested(["--verbose"], {})
    assert verbose_requested([], {"TFLLM_VERBOSITY": "INFO"})
    assert not verbose_requested(["--epochs", "1"], {})
    assert not verbose_requested([], {"TFLLM_VERBOSITY": "warning"})


def test_library_import_changes_no_env_and_no_import_hook():
    out = _python(
        "import os, sys\n"
        "env, hooks = dict(os.environ), list(sys.meta_path)\n"
        "import tfllm, tfllm.utils.logging, tfllm.training\n"
        "tfllm.utils.logging.get_logger().warning('x')\n"
        "assert dict(os.environ) == env, set(os.environ) ^ set(env)\n"
        "assert sys.meta_path == hooks\n"
        "assert 'tensorflow' not in sys.modules\n"
        "print('ok')\n")
    assert out.stdout == "ok\n"
    assert out.stderr == "tfllm WARNING: x\n"


def test_cli_import_hides_tensorflow_native_lines():
    """Importing TensorFlow after `tfllm.cli` prints no C++ line (measured
    on this CPU machine: 7 lines, among them the cuInit error, without)."""
    code = ("import sys, os\nimport tfllm.cli\nimport tensorflow as tf\n"
            "tf.constant(1.0) + 1\n"
            "print('level', os.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
            "print('python line', file=sys.stderr)\n")
    quiet = _python(code)
    assert quiet.stdout == "level 2\n"
    assert quiet.stderr == "python line\n"
    # -v (or TFLLM_VERBOSITY=info) leaves TensorFlow's output alone.
    loud = _python(code.replace("level', os.environ['TF_CPP_MIN_LOG_LEVEL']",
                                "level', os.environ.get('TF_CPP_MIN_LOG_LEVEL')"),
                   args=["-v"])
    assert loud.stdout == "level None\n"
    assert any(is_native_log_line(line)
               for line in loud.stderr.splitlines(keepends=True))


def test_logger_level_and_env():
    logger = get_logger("tfllm.training.trainer")
    assert logger.name == "tfllm.training.trainer"
    root = get_logger()
    before = root.level
    try:
        set_verbosity("error")
        assert root.level == logging.ERROR
        set_verbosity(logging.INFO)
        assert not logger.isEnabledFor(logging.DEBUG)
        with pytest.raises(ValueError, match="verbosity 'loud'"):
            set_verbosity("loud")
    finally:
        root.setLevel(before)
    out = _python("import tfllm.utils.logging as l, logging\n"
                  "print(l.get_logger().level == logging.DEBUG)",
                  env={"TFLLM_VERBOSITY": "debug"})
    assert out.stdout == "True\n"
