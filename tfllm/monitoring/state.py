"""Restart-safe checkpoint of a monitor: read position, state, outputs.

After each processed batch the monitor writes `state.json` atomically
(`tfllm.utils.atomic.atomic_path`: a reader or a restart sees the old or
the new file, never half of one). It holds the stream position after the
last processed record, the aggregator's and alerter's state, the counters,
and the byte length of every append-only output file at that moment. On
restart, `restore_outputs` truncates each output back to its recorded
length, dropping lines written after the last checkpoint (by a run killed
between writing and checkpointing), and reading resumes after the recorded
position, so those records are processed exactly once more: no record is
counted twice and no alert is written twice.
"""

import json
import os
import pathlib

from tfllm.utils.atomic import atomic_path

STATE_VERSION = 1


def load_state(path):
    """The saved state dict, or None when `path` does not exist.

    Raises:
        ValueError: a state file that is not valid JSON or of another
            version (names the file).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a monitor state file ({e})") from None
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: state version {state.get('version')!r}, "
                         f"expected {STATE_VERSION}")
    return state


def save_state(path, state):
    """Writes `state` (a JSON-able dict) to `path` atomically."""
    state = dict(state, version=STATE_VERSION)
    with atomic_path(path) as temp:
        with open(temp, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())


def output_lengths(paths):
    """`{name: bytes}` of the output files (0 for a missing one)."""
    return {str(p): (pathlib.Path(p).stat().st_size
                     if pathlib.Path(p).is_file() else 0) for p in paths}


def restore_outputs(lengths):
    """Truncates each output file to its checkpointed length.

    Args:
        lengths: dict path -> bytes, from `output_lengths` at the last
            checkpoint.

    Returns:
        int: bytes dropped in all (written after the last checkpoint).

    Raises:
        ValueError: a file shorter than its checkpointed length (it was
            changed by something else; resuming would be inconsistent).
    """
    dropped = 0
    for name, length in lengths.items():
        path = pathlib.Path(name)
        size = path.stat().st_size if path.is_file() else 0
        if size < length:
            raise ValueError(f"{path}: {size} bytes, but the checkpoint "
                             f"recorded {length}; it was changed outside "
                             "the monitor (remove the state file to start "
                             "over)")
        if size > length:
            with open(path, "r+b") as f:
                f.truncate(length)
            dropped += size - length
    return dropped
