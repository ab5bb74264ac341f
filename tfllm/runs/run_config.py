"""The resolved settings of a run, written into its folder."""

import dataclasses
import json
import pathlib


def write_run_config(run_dir, *settings, json_settings=None):
    """Writes the settings dataclasses of a run into `run_dir`.

    `config.yaml` (`tfllm.config.save_config`, which `--config` reads back,
    so a run can be repeated) and `config.json`
    (the merged fields of `json_settings`, default `settings`), which
    readers of run folders (`load_run_data`) use.

    Args:
        run_dir: str or path (created if missing).
        *settings: dataclass instances (`CorpusConfig`, `TrainingConfig`...).
        json_settings: tuple of dataclass instances for `config.json`, or
            None (`settings`).

    Returns:
        list of the written `pathlib.Path`s.
    """
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    merged = {}
    for instance in settings if json_settings is None else json_settings:
        merged.update(dataclasses.asdict(instance))
    written = [run_dir / "config.json"]
    written[0].write_text(json.dumps(merged, indent=2) + "\n")
    from tfllm.config import save_config

    save_config(run_dir / "config.yaml", *settings)
    return written + [run_dir / "config.yaml"]
