"""Run tracking beyond TensorBoard: Weights & Biases and MLflow.

`TrainingConfig.report_to` names where a run is recorded, as Hugging Face's
`TrainingArguments.report_to` does: a comma list of `tensorboard`, `wandb`
and `mlflow`, or `none`. TensorBoard is `tfllm.training.callbacks.
TensorBoard`; this module holds the other two, as Keras callbacks that
`tfllm.training.train` adds to `model.fit`. Each records, on the chief
worker only:

- the run's parameters, once, when the tracker is made: every field of
  the `TrainingConfig` plus `steps_per_epoch` and `optimizer_updates`, and
  the settings the caller passes (e.g. `dataclasses.asdict(ner_config)`);
  nested dicts are flattened with dotted keys;
- per-step metrics every `log_every_steps` optimizer steps and at every
  epoch end, at the global step: `train/loss`, the mean training loss of
  the steps since the last record (with `log_every_steps=1`, each step's
  loss; the weighting is Keras' loss tracker's, by batch size), and
  `train/learning_rate`, the base learning rate after the step;
- per-epoch metrics at the step that ends the epoch: `epoch` (1-based)
  and every number of the epoch's Keras logs, the keys of
  `metrics.jsonl` (`loss`, `val_<score>`, `epoch_seconds`,
  `train_tokens_per_second`, `learning_rate`);
- the final report, when the run code calls `log_final_report(run_dir,
  summary)` with its `summary.json` dict, which also ends the runs.

Where the records go, with no network needed:

- `wandb`: `<run_dir>/wandb/` (or `WANDB_DIR`), project `WANDB_PROJECT`
  (default `tfllm`), run name = the run folder's name. With `WANDB_MODE`
  unset and no API key (`WANDB_API_KEY` or a `~/.netrc` login), the run
  is offline: `wandb sync <run_dir>/wandb/offline-run-*` uploads it later.
  The final report goes to the run's summary (nested dicts kept).
- `mlflow`: the store `MLFLOW_TRACKING_URI`, by default the local file
  store `<run_dir>/mlruns`, experiment `MLFLOW_EXPERIMENT_NAME` (default
  `tfllm`), run name = the run folder's name. MLflow 3.x refuses its
  file store unless `MLFLOW_ALLOW_FILE_STORE=true` (its database backend
  needs SQLAlchemy, which `mlflow-skinny` lacks), so making this tracker
  sets that variable when it is unset and the store is a local folder;
  read the store with `MLFLOW_ALLOW_FILE_STORE=true mlflow ui
  --backend-store-uri <run_dir>/mlruns`. Parameters are strings (MLflow
  params); the final report is the artifact `summary.json` plus each
  number in it as a metric (`final/<key>`, nested keys joined by `/`).

A resumed run (the run folder holds a checkpoint) continues the same W&B
and MLflow runs: their ids are kept in `<run_dir>/tracking.json`.
Parameters that MLflow already holds keep their first value (MLflow
forbids changing one); a changed value is named in a warning.

Both libraries are optional: `pip install "tfllm[tracking]"`.
"""

import atexit
import dataclasses
import importlib
import json
import logging
import math
import netrc
import os
import pathlib
import time
import urllib.parse

import keras
import tensorflow as tf

KNOWN_BACKENDS = ("tensorboard", "wandb", "mlflow")
INSTALL_HINT = 'pip install "tfllm[tracking]"'
DEFAULT_LOG_EVERY_STEPS = 50
IDS_FILE = "tracking.json"

logger = logging.getLogger("tfllm")

# run folder (resolved, str) -> trackers still open, for log_final_report.
_OPEN = {}


def parse_report_to(value):
    """Parses a `report_to` setting into backend names.

    Args:
        value: str, a comma list such as `"tensorboard,wandb"` (spaces and
            case ignored, duplicates dropped), `"none"`, or a list/tuple
            of names (empty: none).

    Returns:
        tuple of str: the backends in the order given, each one of
        `KNOWN_BACKENDS`; `()` for `"none"`.

    Raises:
        ValueError: an empty setting, an unknown name (the message lists
            the known ones), or `none` beside other names.
    """
    if not isinstance(value, str):
        return tuple(dict.fromkeys(parse_report_to(",".join(map(str, value)))
                                   if value else ()))
    parts = value.split(",")
    names = [str(p).strip().lower() for p in parts]
    names = [n for n in names if n]
    if not names:
        raise ValueError(
            f"report_to {value!r}: expected a comma list of "
            f"{', '.join(KNOWN_BACKENDS)}, or 'none'")
    unknown = [n for n in names if n not in KNOWN_BACKENDS + ("none",)]
    if unknown:
        raise ValueError(
            f"report_to {value!r}: unknown {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(KNOWN_BACKENDS)}, none")
    if "none" in names:
        if len(set(names)) > 1:
            raise ValueError(
                f"report_to {value!r}: 'none' cannot be combined with "
                "other names")
        return ()
    return tuple(dict.fromkeys(names))


def _require(module, backend):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"report_to {backend!r} needs the {module!r} package, which is "
            f"not installed: {INSTALL_HINT}") from e


def flatten(params, prefix="", sep="."):
    """Flattens nested dicts (dataclasses too) into one level.

    Args:
        params: dict or dataclass instance.
        prefix: str. Prepended to every key.
        sep: str. Joins nested keys, e.g. `{"a": {"b": 1}}` -> `{"a.b": 1}`.

    Returns:
        dict of str -> leaf value (lists and scalars unchanged).
    """
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        params = dataclasses.asdict(params)
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        if isinstance(value, dict):
            flat.update(flatten(value, name + sep, sep))
        else:
            flat[name] = value
    return flat


def _numbers(record):
    """The finite real numbers of a flat dict, as floats (bools excluded)."""
    out = {}
    for key, value in record.items():
        if isinstance(value, bool) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[key] = number
    return out


def _load_ids(run_dir):
    path = pathlib.Path(run_dir) / IDS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_id(run_dir, backend, run_id):
    ids = _load_ids(run_dir)
    ids[backend] = run_id
    (pathlib.Path(run_dir) / IDS_FILE).write_text(
        json.dumps(ids, indent=2) + "\n")


class Tracker(keras.callbacks.Callback):
    """A Keras callback that records one run in a tracking backend.

    Subclasses implement `_log_params`, `_log_metrics`, `_log_report` and
    `_finish`; this class decides what is recorded when (see the module
    docstring). Make trackers with `make_trackers`.

    Args:
        run_dir: str or path. The run folder; its name names the run.
        params: dict. The run's settings (flattened here).
        log_every_steps: int. Optimizer steps between `train/*` records
            (each epoch end records too); 0 or None: epoch ends only.
        initial_step: int. Global step at the start (a resumed run).
    """

    name = None

    def __init__(self, run_dir, params,
                 log_every_steps=DEFAULT_LOG_EVERY_STEPS, initial_step=0):
        super().__init__()
        self.run_dir = pathlib.Path(run_dir)
        self.log_every_steps = log_every_steps or 0
        self.step = initial_step
        self.completed = False
        self.closed = False
        self._log_params(flatten(params))

    # Keras hooks --------------------------------------------------------
    def on_train_begin(self, logs=None):
        self.completed = False

    def on_train_end(self, logs=None):
        self.completed = True

    def on_epoch_begin(self, epoch, logs=None):
        # Keras resets the loss tracker at every epoch start.
        self._since = (0.0, 0.0)
        self._pending = 0
        self._last_loss = None

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self._pending += 1
        if logs and "loss" in logs:
            self._last_loss = logs["loss"]
        if self.log_every_steps and self.step % self.log_every_steps == 0:
            self._log_step()

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self, "_pending", 0):
            self._log_step()
        record = {"epoch": epoch + 1}
        record.update(_numbers(dict(logs or {})))
        self._log_metrics(record, self.step)

    # ---------------------------------------------------------------------
    def _loss_since_last_record(self):
        """Mean loss of the steps since the last record.

        Read from the difference of Keras' loss tracker's `total` and
        `count` (both summed from the epoch start), so the figure is exact;
        under a multi-worker strategy, where reading them on the chief alone
        would wait for the other workers, it is the epoch-to-date mean that
        the progress bar shows.
        """
        tracker = getattr(self.model, "_loss_tracker", None)
        multi_worker = isinstance(
            tf.distribute.get_strategy(),
            tf.distribute.MultiWorkerMirroredStrategy)
        if tracker is None or multi_worker or not hasattr(tracker, "total"):
            return None if self._last_loss is None else float(
                keras.ops.convert_to_numpy(self._last_loss).reshape(-1)[0])
        total = float(keras.ops.convert_to_numpy(tracker.total))
        count = float(keras.ops.convert_to_numpy(tracker.count))
        previous_total, previous_count = self._since
        self._since = (total, count)
        if count == previous_count:
            return None
        return (total - previous_total) / (count - previous_count)

    def _log_step(self):
        self._pending = 0
        record = {"train/learning_rate": float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))}
        loss = self._loss_since_last_record()
        if loss is not None:
            record["train/loss"] = loss
        self._log_metrics(record, self.step)

    def report(self, summary):
        """Records the final report (a `summary.json` dict)."""
        self._log_report(summary)

    def close(self, failed=False):
        """Ends the backend's run (once); `failed` marks it failed."""
        if not self.closed:
            self.closed = True
            self._finish(failed)

    def _log_params(self, params):
        raise NotImplementedError

    def _log_metrics(self, metrics, step):
        raise NotImplementedError

    def _log_report(self, summary):
        raise NotImplementedError

    def _finish(self, failed):
        raise NotImplementedError


def _wandb_has_api_key():
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urllib.parse.urlparse(
        os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbTracker(Tracker):
    """Records the run in Weights & Biases (offline unless configured).

    Offline (the default with `WANDB_MODE` unset and no API key), the run
    is written to `<run_dir>/wandb/offline-run-<time>-<id>/run-<id>.wandb`
    and uploaded later with `wandb sync`. Parameters go to the run's
    config, metrics to its history (step = global optimizer step), the
    final report to its summary.

    Raises:
        ImportError: wandb is not installed (names the extra to install).
    """

    name = "wandb"

    def __init__(self, run_dir, params,
                 log_every_steps=DEFAULT_LOG_EVERY_STEPS, initial_step=0):
        wandb = _require("wandb", "wandb")
        # Passed explicitly: wandb reads its environment once per process.
        mode = os.environ.get("WANDB_MODE", "").strip().lower() or None
        mode = {"dryrun": "offline", "run": "online"}.get(mode, mode)
        if mode is None and not _wandb_has_api_key():
            mode = "offline"
        run_id = _load_ids(run_dir).get("wandb")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "tfllm"),
            name=pathlib.Path(run_dir).name,
            dir=None if os.environ.get("WANDB_DIR") else str(run_dir),
            id=run_id,
            resume="allow" if run_id else None,
            mode=mode,
            reinit="create_new",
        )
        _save_id(run_dir, "wandb", self.run.id)
        super().__init__(run_dir, params, log_every_steps, initial_step)

    def _log_params(self, params):
        self.run.config.update(params, allow_val_change=True)

    def _log_metrics(self, metrics, step):
        self.run.log(metrics, step=step)

    def _log_report(self, summary):
        self.run.summary.update(dict(summary))

    def _finish(self, failed):
        self.run.finish(exit_code=1 if failed else 0)


class MlflowTracker(Tracker):
    """Records the run in MLflow, by default in `<run_dir>/mlruns`.

    Uses an `MlflowClient` bound to the store (no global active run, so a
    caller's own `mlflow.start_run` is left alone). Parameters are logged
    as MLflow params (strings), metrics with step = global optimizer step,
    the final report as the artifact `summary.json` and its numbers as
    metrics `final/<key>`.

    Raises:
        ImportError: mlflow is not installed (names the extra to install).
    """

    name = "mlflow"

    def __init__(self, run_dir, params,
                 log_every_steps=DEFAULT_LOG_EVERY_STEPS, initial_step=0):
        _require("mlflow", "mlflow")
        from mlflow import MlflowClient

        run_dir = pathlib.Path(run_dir)
        uri = os.environ.get("MLFLOW_TRACKING_URI") or (
            (run_dir / "mlruns").resolve().as_uri())
        if urllib.parse.urlparse(uri).scheme in ("", "file"):
            # MLflow 3.x: the file store raises unless this is set.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=uri)
        self.tracking_uri = uri
        run_id = _load_ids(run_dir).get("mlflow")
        self._existing_params = {}
        if run_id is not None:
            try:
                run = self.client.get_run(run_id)
                self._existing_params = dict(run.data.params)
                self.client.update_run(run_id, status="RUNNING")
            except Exception:  # not in this store: start a new run
                run_id = None
        if run_id is None:
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "tfllm")
            experiment = self.client.get_experiment_by_name(name)
            experiment_id = (experiment.experiment_id if experiment
                             else self.client.create_experiment(name))
            run_id = self.client.create_run(
                experiment_id, run_name=run_dir.name).info.run_id
        self.run_id = run_id
        _save_id(run_dir, "mlflow", run_id)
        super().__init__(run_dir, params, log_every_steps, initial_step)

    def _log_params(self, params):
        from mlflow.entities import Param

        values = {k: v if isinstance(v, str) else json.dumps(v)
                  for k, v in params.items()}
        changed = [k for k, v in values.items()
                   if k in self._existing_params
                   and self._existing_params[k] != v]
        if changed:
            logger.warning(
                "mlflow run %s keeps the first value of %s (MLflow params "
                "cannot change on resume)", self.run_id, ", ".join(changed))
        new = [Param(k, v) for k, v in values.items()
               if k not in self._existing_params]
        self.client.log_batch(self.run_id, params=new)

    def _log_metrics(self, metrics, step):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[
            Metric(k, float(v), now, step) for k, v in metrics.items()])

    def _log_report(self, summary):
        numbers = _numbers(flatten(summary, "final/", "/"))
        self._log_metrics(numbers, self.step)
        self.client.log_dict(self.run_id, dict(summary), "summary.json")

    def _finish(self, failed):
        self.client.set_terminated(
            self.run_id, status="FAILED" if failed else "FINISHED")


TRACKERS = {"wandb": WandbTracker, "mlflow": MlflowTracker}


def make_trackers(report_to, run_dir, params, log_every_steps=
                  DEFAULT_LOG_EVERY_STEPS, initial_step=0):
    """Makes the tracking callbacks of a run (`tensorboard` excluded).

    Trackers still open for the same run folder (a run whose final report
    was never sent) are closed first. The new ones stay open until
    `log_final_report(run_dir, ...)` or the end of the process (then a run
    whose last `fit` did not complete is marked failed).

    Args:
        report_to: str or list; see `parse_report_to`.
        run_dir: str or path.
        params: dict. The run's settings.
        log_every_steps: int. See `Tracker`.
        initial_step: int. Global step at the start.

    Returns:
        list of `Tracker` (Keras callbacks), in `report_to` order.

    Raises:
        ValueError: bad `report_to`.
        ImportError: a named backend's package is missing.
    """
    names = [n for n in parse_report_to(report_to) if n in TRACKERS]
    for name in names:  # every missing package fails before any run starts
        _require(name, name)
    key = str(pathlib.Path(run_dir).resolve())
    for tracker in _OPEN.pop(key, []):
        tracker.close(failed=not tracker.completed)
    trackers = [TRACKERS[n](run_dir, params, log_every_steps, initial_step)
                for n in names]
    if trackers:
        _OPEN[key] = trackers
    return trackers


def log_final_report(run_dir, summary):
    """Sends a run's final report to its trackers and ends their runs.

    Call it after writing `summary.json`; a no-op when the run has no open
    tracker (`report_to` without wandb/mlflow, or a non-chief worker).

    Args:
        run_dir: str or path. The folder given to `tfllm.training.train`.
        summary: dict. The final report (`summary.json`'s content).

    Returns:
        list of str: the backends that received it.
    """
    trackers = _OPEN.pop(str(pathlib.Path(run_dir).resolve()), [])
    for tracker in trackers:
        tracker.report(summary)
        tracker.close(failed=False)
    return [t.name for t in trackers]


@atexit.register
def _close_all():
    while _OPEN:
        _, trackers = _OPEN.popitem()
        for tracker in trackers:
            try:
                tracker.close(failed=not tracker.completed)
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
