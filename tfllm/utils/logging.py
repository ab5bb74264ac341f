"""tfllm's logger and the quieting of TensorFlow's native logs.

Two separate things live here:

- The `tfllm` logger (`get_logger`, `set_verbosity`): library messages
  (a run too short for its warmup, a summary of data warnings) go to
  stderr at WARNING and above by default; `TFLLM_VERBOSITY`
  (`debug`, `info`, `warning`, `error`, `critical`) or `set_verbosity`
  changes the level. Results are printed to stdout by the CLI, not logged.
- `quiet_native_logs(verbose)`, called only by the command-line entry
  (`tfllm.cli`) before TensorFlow is imported. Importing the library
  (`import tfllm`, `import tfllm.models...`) changes no environment
  variable and no filter.

What TensorFlow 2.21 prints on a CPU-only machine, and what removes it
(measured 2026-12-06):

- While `import tensorflow` loads its shared libraries, absl writes
  `WARNING: All log messages before absl::InitializeLog() is called are
  written to STDERR` and INFO lines (`port.cc` oneDNN, `cudart_stub.cc`
  "Could not find cuda drivers"), twice. They come before TensorFlow reads
  `TF_CPP_MIN_LOG_LEVEL`, so no level (not even 3) removes them: the import
  runs with file descriptor 2 captured, and only what is not a C++ log line
  is passed on.
- The first device enumeration logs `E0000 ... failed call to cuInit ...
  (303)` where no CUDA driver answers. Only `TF_CPP_MIN_LOG_LEVEL=3` hides it
  (2 keeps ERROR), and 3 would hide every later C++ error too; so the
  devices are enumerated once inside the captured import, and the level
  stays 2 (INFO and WARNING lines such as tf.data's
  `Optimization loop failed: CANCELLED` are dropped, real errors shown).
"""

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
import warnings

LOGGER_NAME = "tfllm"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_lock = threading.Lock()
_handler = None

# `I1206 14:52:13.123456  6450 port.cc:153] ...` (glog/absl C++ layout;
# TensorFlow 2.21 writes `I0000 00:00:1796568738.797544`, seconds since 1970).
_NATIVE_LINE = re.compile(
    r"^[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] ")
_NATIVE_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called",
    # The second line of cpu_feature_guard's message.
    "To enable the following instructions:",
)
# Third-party packages whose deprecation notices address their own
# developers, not tfllm's users.
_THIRD_PARTY = r"(tensorflow|tf_keras|keras|keras_hub|keras_nlp|absl|google\.protobuf|h5py|jax|optree)(\.|$)"


def _level(value):
    if isinstance(value, int):
        return value
    name = str(value).strip().lower()
    if name not in _LEVELS:
        raise ValueError(
            f"verbosity {value!r}: expected one of {', '.join(_LEVELS)}")
    return _LEVELS[name]


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted."""

    def __init__(self):
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _root_logger():
    global _handler
    logger = logging.getLogger(LOGGER_NAME)
    with _lock:
        if _handler is None:
            _handler = _StderrHandler()
            _handler.setFormatter(
                logging.Formatter("tfllm %(levelname)s: %(message)s"))
            logger.addHandler(_handler)
            logger.propagate = False
            env = os.environ.get("TFLLM_VERBOSITY")
            try:
                logger.setLevel(_level(env) if env else logging.WARNING)
            except ValueError:
                logger.setLevel(logging.WARNING)
                logger.warning("TFLLM_VERBOSITY=%r: expected one of %s; "
                               "using warning", env, ", ".join(_LEVELS))
    return logger


def get_logger(name=None):
    """Returns the `tfllm` logger, or its child `tfllm.<name>`.

    The first call attaches one handler to `tfllm` that writes
    `tfllm LEVEL: message` lines to stderr, at the level of
    `TFLLM_VERBOSITY` (default `warning`).

    Args:
        name: str or None. A module name; a leading `tfllm.` is kept once.

    Returns:
        `logging.Logger`.
    """
    root = _root_logger()
    if not name or name == LOGGER_NAME:
        return root
    if name.startswith(LOGGER_NAME + "."):
        name = name[len(LOGGER_NAME) + 1:]
    return root.getChild(name)


def set_verbosity(level):
    """Sets the level of the `tfllm` logger.

    Args:
        level: `"debug"`, `"info"`, `"warning"`, `"error"`, `"critical"`
            (any case) or a `logging` level number.

    Raises:
        ValueError: an unknown level name.
    """
    _root_logger().setLevel(_level(level))


def verbose_requested(argv=None, environ=None):
    """Whether a command asked for TensorFlow's own logs.

    True when `-v` or `--verbose` is among the arguments, or
    `TFLLM_VERBOSITY` is `debug` or `info`.

    Args:
        argv: list of str or None (`sys.argv[1:]`).
        environ: mapping or None (`os.environ`).
    """
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    if any(a in ("-v", "--verbose") for a in argv):
        return True
    return environ.get("TFLLM_VERBOSITY", "").strip().lower() in (
        "debug", "info")


def is_native_log_line(line):
    """Whether `line` is TensorFlow/absl C++ log output (INFO to ERROR)."""
    return bool(_NATIVE_LINE.match(line)) or line.startswith(_NATIVE_NOISE)


# What LiteRT's interpreter prints (to fd 2) each time one is created
# with XNNPACK: an INFO line and a deprecation notice labelled ERROR.
_LITERT_NOISE = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
                 "ERROR: Subgraph reshaping is enabled by default")


def is_litert_noise(line):
    """Whether `line` is one of LiteRT's interpreter-creation notices."""
    return line.startswith(_LITERT_NOISE)


@contextlib.contextmanager
def quiet_litert_logs(verbose=False):
    """Runs the block (creating a LiteRT interpreter) with LiteRT's
    creation notices removed from stderr; everything else still shows.

    Args:
        verbose: bool. True leaves the notices (does nothing); default
            False unless `TFLLM_VERBOSITY` is `debug` or `info`.
    """
    if verbose or verbose_requested(argv=()):
        yield
        return
    with _captured_fd2(drop=is_litert_noise):
        yield


@contextlib.contextmanager
def _captured_fd2(drop=None):
    """Captures what is written to file descriptor 2 inside the block.

    On exit the descriptor is restored and every captured line for which
    `drop` (default: `is_native_log_line`) is false is written to stderr
    (Python output and anything unexpected still reach the user).
    """
    drop = drop or is_native_log_line
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True)
                    if not drop(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's import (and device discovery) with fd 2 captured."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        spec = module.__spec__
        spec.loader = module.__loader__ = self._loader
        with _captured_fd2():
            self._loader.exec_module(module)
            # The cuInit error is logged at the first device enumeration.
            module.config.list_physical_devices()
        _quiet_python_loggers()


class _QuietImportFinder(importlib.abc.MetaPathFinder):
    """Wraps the first `import tensorflow` in `_QuietLoader`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _quiet_python_loggers():
    """absl (Keras' warnings) and TensorFlow's Python logger to ERROR."""
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _one_line_warning(message, category, filename, lineno, line=None):
    """`warnings.formatwarning` without the quoted source line."""
    return f"{filename}:{lineno}: {category.__name__}: {message}\n"


def quiet_native_logs(verbose=False):
    """Keeps TensorFlow's C++ log lines off the terminal (the CLI's default).

    Call it before TensorFlow is imported (`tfllm.cli` does, at import). It
    sets `TF_CPP_MIN_LOG_LEVEL=2` (no C++ INFO/WARNING; errors stay) and
    `GRPC_VERBOSITY=ERROR` unless already set, runs the first
    `import tensorflow` and its device discovery with file descriptor 2
    captured and passes on only what is not a C++ log line (which removes
    the load-time absl lines and the `cuInit` error, see the module
    docstring), sets absl's and TensorFlow's Python loggers to ERROR, and
    ignores deprecation notices that TensorFlow, Keras, absl and protobuf
    issue about their own code; the warnings still shown take one line
    each (without the quoted source line). If TensorFlow is already
    imported, only the environment and the filters apply.

    Args:
        verbose: bool. True leaves everything as TensorFlow sets it (does
            nothing).
    """
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for category in (DeprecationWarning, PendingDeprecationWarning,
                     FutureWarning):
        warnings.filterwarnings("ignore", category=category,
                                module=_THIRD_PARTY)
    warnings.formatwarning = _one_line_warning
    if "tensorflow" in sys.modules:
        _quiet_python_loggers()
    elif not any(isinstance(f, _QuietImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImportFinder())
