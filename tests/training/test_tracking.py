"""Run tracking (`report_to`): W&B offline and MLflow's local store, for real.

Each test trains a tiny token classifier for one epoch with one backend,
then reads back what the backend stored (MLflow through its client, W&B
by parsing the offline run file) and compares it with what the run itself
computed: its settings, Keras' per-step running loss and learning rate
(recorded by a callback beside the trackers), the epoch record and the
final report.
"""

import dataclasses
import glob
import json
import struct
import time

import keras
import numpy as np
import pytest

from tfllm.data.pipeline import encode_token_classification
from tfllm.training import trainer
from tfllm.training import tracking
from tfllm.training.trainer import TrainingConfig
from tfllm.training.trainer import train
from tiny import NER_LABELS
from tiny import tiny_token_classifier
from training.test_trainer import no_eval
from training.test_trainer import sum_loss
from training.test_trainer import tiny_data

SETTINGS = {"dataset": "tiny", "labels": NER_LABELS, "head": "softmax"}


class Recorder(keras.callbacks.Callback):
    """What the run computed at each step: Keras' epoch-to-date mean loss
    (the progress bar's figure) and the learning rate after the step."""

    def __init__(self):
        super().__init__()
        self.running_loss, self.learning_rate = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.running_loss.append(float(logs["loss"]))
        self.learning_rate.append(float(keras.ops.convert_to_numpy(
            self.model.optimizer.learning_rate)))


def tracked_run(tmp_path, monkeypatch, report_to, log_every_steps=1):
    recorder = Recorder()
    # The PEFT hook of train() is the seam that adds a callback.
    monkeypatch.setattr(trainer, "training_callbacks",
                        lambda *args: [recorder])
    keras.utils.set_random_seed(0)
    model = tiny_token_classifier(seed=0)
    encoded = encode_token_classification(model.preprocessor, *tiny_data())
    config = TrainingConfig(epochs=1, batch_size=8, learning_rate=1e-3,
                            warmup_ratio=0.0, report_to=report_to)
    config.log_every_steps = log_every_steps
    run_dir = tmp_path / "run"
    start = time.perf_counter()
    _, history = train(model, encoded, config, run_dir, no_eval, "score",
                       sum_loss(), run_settings=SETTINGS)
    summary = {"validation_score": history[-1]["val_score"],
               "wall_seconds": 12.5, "machine": "tiny box",
               "unknown_subtoken_rate": {"train": 0.25}}
    assert tracking.log_final_report(run_dir, summary) == [
        n for n in report_to.split(",") if n in ("wandb", "mlflow")]
    seconds = time.perf_counter() - start
    params = (dataclasses.asdict(config)
              | {"steps_per_epoch": len(recorder.running_loss),
                 "optimizer_updates": len(recorder.running_loss)}
              | SETTINGS)
    return run_dir, recorder, history[-1], summary, params, seconds


def check_step_losses(per_step, running):
    """Each tracked step loss is that step's own loss: their running mean
    (all batches hold 8 windows of one length bucket) is Keras' figure."""
    assert len(per_step) == len(running) == 4
    np.testing.assert_allclose(np.cumsum(per_step) / np.arange(1, 5),
                               running, rtol=1e-5)
    assert len(set(np.round(per_step, 6))) == 4  # not a running mean


def test_mlflow_records_params_step_metrics_and_final_report(
        tmp_path, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir, recorder, epoch, summary, params, seconds = tracked_run(
        tmp_path, monkeypatch, "tensorboard,mlflow")
    print(f"mlflow tiny run: {seconds:.2f} s")
    assert glob.glob(str(run_dir / "train" / "events.out.tfevents.*"))
    ids = json.loads((run_dir / "tracking.json").read_text())
    client = MlflowClient(tracking_uri=(run_dir / "mlruns").as_uri())
    run = client.get_run(ids["mlflow"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "run"
    assert run.data.params == {
        k: v if isinstance(v, str) else json.dumps(v)
        for k, v in tracking.flatten(params).items()}

    def history(key):
        return [(m.step, m.value) for m in client.get_metric_history(
            run.info.run_id, key)]

    losses = history("train/loss")
    assert [s for s, _ in losses] == [1, 2, 3, 4]
    check_step_losses([v for _, v in losses], recorder.running_loss)
    np.testing.assert_allclose([v for _, v in history("train/learning_rate")],
                               recorder.learning_rate, rtol=1e-6)
    # The epoch record, at the step that ends the epoch.
    assert history("val_score") == [(4, epoch["val_score"])]
    assert history("epoch") == [(4, 1.0)]
    np.testing.assert_allclose(history("loss")[0][1], epoch["loss"],
                               rtol=1e-6)
    assert history("loss")[0][1] == pytest.approx(recorder.running_loss[-1])
    # The final report: its numbers as metrics, the whole as an artifact.
    assert run.data.metrics["final/validation_score"] == epoch["val_score"]
    assert run.data.metrics["final/wall_seconds"] == 12.5
    assert run.data.metrics["final/unknown_subtoken_rate/train"] == 0.25
    assert "final/machine" not in run.data.metrics
    path = client.download_artifacts(run.info.run_id, "summary.json",
                                     str(tmp_path))
    assert json.loads(open(path).read()) == summary


def read_wandb_records(path):
    """The records of a W&B run file (`run-<id>.wandb`): a LevelDB-style
    log (32 KiB blocks; chunks of crc32c, length, type, data) after a
    7-byte header, each record a `wandb_internal_pb2.Record`."""
    from wandb.proto import wandb_internal_pb2

    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    records, chunks, pos, block = [], b"", 7, 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", data[pos + 4:pos + 7])
        if pos + 7 + length > len(data):  # still being written
            break
        chunks += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            records.append(record)
            chunks = b""
    return records


def item_key(item):
    """The key of a W&B config/history/summary item (flat or nested)."""
    return item.key or "/".join(item.nested_key)


def test_wandb_offline_records_params_step_metrics_and_final_report(
        tmp_path, monkeypatch):
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc login
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    run_dir, recorder, epoch, summary, params, seconds = tracked_run(
        tmp_path, monkeypatch, "wandb")
    print(f"wandb tiny run: {seconds:.2f} s")
    ids = json.loads((run_dir / "tracking.json").read_text())
    files = glob.glob(str(run_dir / "wandb" / "offline-run-*" /
                          f"run-{ids['wandb']}.wandb"))
    assert len(files) == 1  # offline, inside the run folder
    # wandb-core (a separate process) may still be writing the file after
    # run.finish() returned: wait for its last record, `exit`.
    deadline = time.monotonic() + 60
    while True:
        records = read_wandb_records(files[0])
        if (any(r.WhichOneof("record_type") == "exit" for r in records)
                or time.monotonic() > deadline):
            break
        time.sleep(0.2)
    config, rows, final = {}, {}, {}
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "config":
            for item in record.config.update:
                config[item_key(item)] = json.loads(item.value_json)
        elif kind == "history":
            rows[record.history.step.num] = {
                item_key(item): json.loads(item.value_json)
                for item in record.history.item}
        elif kind == "summary":
            for item in record.summary.update:
                final[item_key(item)] = json.loads(item.value_json)
        elif kind == "run":
            assert record.run.display_name == "run"
    assert {k: v for k, v in config.items()
            if not k.startswith("_")} == tracking.flatten(params)
    assert sorted(rows) == [1, 2, 3, 4]
    check_step_losses([rows[s]["train/loss"] for s in sorted(rows)],
                      recorder.running_loss)
    np.testing.assert_allclose(
        [rows[s]["train/learning_rate"] for s in sorted(rows)],
        recorder.learning_rate, rtol=1e-6)
    assert rows[4]["val_score"] == epoch["val_score"]
    assert rows[4]["epoch"] == 1
    assert rows[4]["loss"] == pytest.approx(epoch["loss"], rel=1e-6)
    for key, value in summary.items():
        assert final[key] == value


def test_none_records_nothing_beside_the_run_folder(tmp_path, monkeypatch):
    run_dir, *_ = tracked_run(tmp_path, monkeypatch, "none")
    assert not (run_dir / "train").exists()  # no TensorBoard logs
    assert not (run_dir / "tracking.json").exists()
    assert (run_dir / "metrics.jsonl").is_file()


@pytest.mark.parametrize("value, expected", [
    ("tensorboard", ("tensorboard",)),
    (" WandB , mlflow,wandb", ("wandb", "mlflow")),
    ("none", ()),
    (["mlflow", "tensorboard"], ("mlflow", "tensorboard")),
])
def test_parse_report_to(value, expected):
    assert tracking.parse_report_to(value) == expected


@pytest.mark.parametrize("value, message", [
    ("tensorboard,comet", r"unknown 'comet'; known: tensorboard, wandb, "
                          r"mlflow, none"),
    ("none,wandb", "cannot be combined"),
    (" , ", "expected a comma list"),
])
def test_parse_report_to_rejects(value, message):
    with pytest.raises(ValueError, match=message):
        tracking.parse_report_to(value)


def test_unknown_backend_fails_before_training(tmp_path):
    model = tiny_token_classifier()
    encoded = encode_token_classification(model.preprocessor, *tiny_data(4))
    with pytest.raises(ValueError, match="unknown 'comet'"):
        train(model, encoded, TrainingConfig(epochs=1, report_to="comet"),
              tmp_path, no_eval, "score", sum_loss())
    assert not (tmp_path / "checkpoint").exists()


def test_missing_package_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(ImportError, match=r'tfllm\[tracking\]'):
        tracking.make_trackers("tensorboard,mlflow", tmp_path, {})


def test_resumed_run_continues_the_same_runs(tmp_path, monkeypatch, caplog):
    """A second start in the same run folder (a resumed run) logs to the
    runs of the first start; MLflow keeps a parameter's first value."""
    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    first = tracking.make_trackers("wandb,mlflow", tmp_path, {"epochs": 1})
    ids = json.loads((tmp_path / "tracking.json").read_text())
    second = tracking.make_trackers("wandb,mlflow", tmp_path,
                                    {"epochs": 3, "seed": 7})
    assert all(t.closed for t in first)  # the first start's runs ended
    assert second[0].run.id == ids["wandb"]
    assert second[1].run_id == ids["mlflow"]
    assert "keeps the first value of epochs" in caplog.text
    second[1]._log_metrics({"train/loss": 0.5}, 7)
    tracking.log_final_report(tmp_path, {"score": 1.0})
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    run = client.get_run(ids["mlflow"])
    assert run.data.params == {"epochs": "1", "seed": "7"}
    assert run.data.metrics == {"train/loss": 0.5, "final/score": 1.0}
    assert run.info.status == "FINISHED"
    assert len(client.search_runs([run.info.experiment_id])) == 1
