"""`benchmarks/results.json`: one headline figure per key.

Each entry is `{"value": number, "unit": str, "command": str, "machine":
str, "date": "YYYY-MM-DD", "commit": str}`; BENCHMARKS.md holds the prose,
the superseded figures and the context of each.
"""

import datetime
import json
import pathlib
import subprocess

from tfllm.utils.atomic import atomic_path
from tfllm.utils.machine import machine_description

RESULTS_PATH = pathlib.Path("benchmarks/results.json")
FIELDS = ("value", "unit", "command", "machine", "date", "commit")


def _commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True,
            text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def record_result(key, value, unit, command, path=RESULTS_PATH,
                  machine=None, date=None, commit=None):
    """Sets one key of the results file (written atomically).

    Args:
        key: str. The figure's name, e.g. `"cluener2020_dev_entity_f1"`.
        value: int or float. The measured figure.
        unit: str. e.g. `"entity F1 (seqeval strict IOB2)"`.
        command: str. The command that measured it.
        path: path-like. Defaults to `benchmarks/results.json`.
        machine, date, commit: str or None. Default: this machine's CPU
            (`tfllm.utils.machine`), today, `git rev-parse --short HEAD`.

    Returns:
        dict: the entry written.

    Raises:
        TypeError: `value` is not a number.
        ValueError: the existing file is not a JSON object.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value must be a number, got {value!r}")
    path = pathlib.Path(path)
    results = json.loads(path.read_text()) if path.is_file() else {}
    if not isinstance(results, dict):
        raise ValueError(f"{path}: expected a JSON object")
    entry = {
        "value": value, "unit": unit, "command": command,
        "machine": machine or machine_description(),
        "date": date or datetime.date.today().isoformat(),
        "commit": commit or _commit(),
    }
    results[key] = entry
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(results, indent=2, sort_keys=True,
                                   ensure_ascii=False) + "\n")
    return entry
