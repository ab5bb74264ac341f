"""Financial sentiment monitor: stream -> classifier -> windows -> alerts.

Reads timestamped JSON-lines records (`tfllm.monitoring.stream`), labels
their sentiment in batches with an exported classifier (the raw-text
`serving_default` signature of `train_classifier.py --export-dir`),
assigns topics (`tfllm.monitoring.topics`), counts labels per topic per
time window (`tfllm.monitoring.windows`), tests each closed window's
negative share against the topic's rolling baseline
(`tfllm.monitoring.alerts`), and writes, in `output_dir`:

- `alerts.jsonl`: one line per alert (window, topic, counts, baseline,
  z statistic, p-value, threshold, example negative texts);
- `windows.jsonl`: one line per closed (window, topic), tested or not;
- `bad_records.jsonl` / `late_records.jsonl`: every skipped line with its
  file, line and reason (also printed to stderr);
- `trend_<topic>.png`, TensorBoard scalars in `tensorboard/`;
- `state.json`: the checkpoint a restart resumes from
  (`tfllm.monitoring.state`); `summary.json`: the run's counters.
"""

import dataclasses
import datetime
import json
import pathlib
import sys
import time

from tfllm.data.errors import UserInputError
from tfllm.monitoring import state as checkpoint
from tfllm.monitoring.alerts import AlertConfig
from tfllm.monitoring.alerts import BaselineAlerter
from tfllm.monitoring.evaluation_stream import EPOCH
from tfllm.monitoring.stream import CAUGHT_UP
from tfllm.monitoring.stream import BadRecord
from tfllm.monitoring.topics import assign_topics
from tfllm.monitoring.trend import ScalarWriter
from tfllm.monitoring.trend import write_trend_plots
from tfllm.monitoring.windows import WindowAggregator
from tfllm.utils.atomic import atomic_path

OUTPUTS = ("alerts.jsonl", "windows.jsonl", "bad_records.jsonl",
           "late_records.jsonl")
COUNTERS = ("records", "bad_records", "late_records", "windows", "alerts")


class SavedModelLabeler:
    """Labels texts with an exported classifier, in batches, with a cache.

    Identical texts are classified once (a dict cache of up to
    `cache_size` texts, cleared when full): a stream that repeats a
    headline pays for it once. The labels are what the model would give
    anyway, so the cache changes the cost, not the result.

    Args:
        path: str. A SavedModel version folder or an export folder of
            integer versions (the newest), as `ClassifierPredictor` takes.
        batch_size: int. Texts per call of the serving signature.
        cache_size: int.

    Raises:
        FileNotFoundError: no model at `path`.
    """

    def __init__(self, path, batch_size=64, cache_size=100_000):
        from tfllm.inference.classifier import ClassifierPredictor

        if not pathlib.Path(path).exists():
            raise FileNotFoundError(f"{path}: no exported classifier")
        self.predictor = ClassifierPredictor(path)
        self.id2label = self.predictor.id2label
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.cache = {}
        self.classified = 0  # texts sent to the model

    def __call__(self, texts):
        """list of str -> list of str labels."""
        new = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if len(self.cache) + len(new) > self.cache_size:
            self.cache.clear()
            new = list(dict.fromkeys(texts))
        for i in range(0, len(new), self.batch_size):
            chunk = new[i:i + self.batch_size]
            for text, result in zip(chunk, self.predictor(chunk)):
                self.cache[text] = result["label"]
            self.classified += len(chunk)
        return [self.cache[t] for t in texts]


@dataclasses.dataclass
class MonitorConfig:
    """Settings of the monitor other than the alert test.

    Attributes:
        window_seconds: float. Window length.
        lateness_seconds: float. Records up to this long after their
            window's end are still counted.
        batch_size: int. Records classified per batch (and per checkpoint).
        negative_label: str. The classifier's label counted as negative.
        max_examples: int. Example negative texts per alert.
        flush_at_end: bool. Without `follow`, close the open windows when
            the input ends (a finished file); records that arrive for them
            later are late.
        plots: bool. Write the trend PNGs (at the end, and while following
            whenever windows closed since the last plot).
        tensorboard: bool. Write TensorBoard scalars.
    """

    window_seconds: float = 3600.0
    lateness_seconds: float = 600.0
    batch_size: int = 256
    negative_label: str = "negative"
    max_examples: int = 3
    flush_at_end: bool = True
    plots: bool = True
    tensorboard: bool = True


def _iso(seconds):
    return (EPOCH + datetime.timedelta(seconds=seconds)).isoformat().replace(
        "+00:00", "Z")


class SentimentMonitor:
    """The monitor's state and its processing of batches.

    Args:
        output_dir: str or path. Outputs and `state.json`; an existing
            state is resumed.
        classify: callable list of str -> list of str sentiment labels
            (e.g. `SavedModelLabeler`).
        topics: callable list of str -> list of lists of topic names, or
            None (records without a `topic` field go to `all`).
        config: `MonitorConfig`.
        alert_config: `AlertConfig`.

    Raises:
        UserInputError (a ValueError): a state saved with another window
            length, lateness or alert test (resuming it would mix two
            definitions).
        ValueError: output files changed since the checkpoint.
    """

    def __init__(self, output_dir, classify, topics=None,
                 config=MonitorConfig(), alert_config=AlertConfig()):
        self.output_dir = pathlib.Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.classify = classify
        self.topics = topics
        self.config = config
        self.alert_config = alert_config
        self.aggregator = WindowAggregator(
            config.window_seconds, config.lateness_seconds,
            config.max_examples, config.negative_label)
        self.alerter = BaselineAlerter(alert_config)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.positions = {}
        self.state_path = self.output_dir / "state.json"
        self.settings = {"window_seconds": config.window_seconds,
                         "lateness_seconds": config.lateness_seconds,
                         "negative_label": config.negative_label,
                         "alert": dataclasses.asdict(alert_config)}
        self.resumed = self._restore()
        self.files = {name: open(self.output_dir / name, "a",
                                 encoding="utf-8") for name in OUTPUTS}
        self.scalars = (ScalarWriter(self.output_dir / "tensorboard")
                        if config.tensorboard else None)
        self.unplotted = False

    def _restore(self):
        saved = checkpoint.load_state(self.state_path)
        if saved is None:
            for name in OUTPUTS:  # a fresh run starts fresh outputs
                (self.output_dir / name).unlink(missing_ok=True)
            return False
        if saved["settings"] != self.settings:
            raise UserInputError(
                f"{self.state_path}: saved with {saved['settings']}, now "
                f"{self.settings}; use another --output-dir or the same "
                "settings")
        checkpoint.restore_outputs(
            {str(self.output_dir / n): v for n, v in saved["outputs"].items()})
        self.aggregator.set_state(saved["aggregator"])
        self.alerter.set_state(saved["alerter"])
        self.counters.update(saved["counters"])
        self.positions = saved["positions"]
        return True

    def _write(self, name, row):
        self.files[name].write(json.dumps(row, ensure_ascii=False) + "\n")

    def process(self, items):
        """Processes a batch of `Record`s and `BadRecord`s, in order."""
        records = [r for r in items if not isinstance(r, BadRecord)]
        labels = dict(zip(map(id, records),
                          self.classify([r.text for r in records])))
        topics = dict(zip(map(id, records),
                          assign_topics(records, self.topics)))
        for item in items:
            if isinstance(item, BadRecord):
                print(f"bad record: {item}", file=sys.stderr)
                self._write("bad_records.jsonl", {
                    "source": item.source, "line": item.line,
                    "error": item.error, "raw": item.raw})
                self.counters["bad_records"] += 1
                continue
            self.counters["records"] += 1
            for topic in topics[id(item)]:
                if not self.aggregator.add(item.time, topic,
                                           labels[id(item)], item.text):
                    self.counters["late_records"] += 1
                    print(f"late record: {item.source}:{item.line}: "
                          f"window {_iso(item.time)} already closed",
                          file=sys.stderr)
                    self._write("late_records.jsonl", {
                        "source": item.source, "line": item.line,
                        "time": _iso(item.time), "topic": topic,
                        "label": labels[id(item)]})
            self._test(self.aggregator.advance())

    def _test(self, closed):
        """Runs the alert test on closed windows; writes rows and alerts."""
        seconds = self.config.window_seconds
        for cell in closed:
            negatives = cell.counts.get(self.config.negative_label, 0)
            result = self.alerter.test(cell.topic, negatives, cell.total)
            row = {"window": cell.window,
                   "start": _iso(cell.window * seconds),
                   "end": _iso((cell.window + 1) * seconds),
                   "topic": cell.topic, "total": cell.total,
                   "counts": dict(sorted(cell.counts.items())),
                   "negative": negatives,
                   "negative_share": (negatives / cell.total
                                      if cell.total else None),
                   **{k: result[k] for k in (
                       "baseline_share", "baseline_windows", "statistic",
                       "p_value", "significant", "alert")}}
            self._write("windows.jsonl", row)
            self.counters["windows"] += 1
            if self.scalars is not None:
                self.scalars.write(row)
            if result["alert"]:
                self.counters["alerts"] += 1
                self._write("alerts.jsonl", {
                    "window_start": row["start"], "window_end": row["end"],
                    "topic": cell.topic, "total": cell.total,
                    "counts": row["counts"], "negative": negatives,
                    "negative_share": row["negative_share"],
                    "baseline_share": result["baseline_share"],
                    "baseline_windows": result["baseline_windows"],
                    "statistic": result["statistic"],
                    "p_value": result["p_value"],
                    "threshold": self.alert_config.threshold,
                    "test": "one-sided exact binomial",
                    "examples": cell.examples})
                print(f"ALERT {cell.topic} {row['start']}: {negatives}/"
                      f"{cell.total} negative vs baseline "
                      f"{result['baseline_share']:.3f} (p="
                      f"{result['p_value']:.2e})", file=sys.stderr)
        self.unplotted = self.unplotted or bool(closed)

    def checkpoint(self, positions):
        """Flushes the outputs and writes `state.json` atomically."""
        for f in self.files.values():
            f.flush()
        if self.scalars is not None:
            self.scalars.flush()
        self.positions = dict(positions)
        checkpoint.save_state(self.state_path, {
            "settings": self.settings, "positions": self.positions,
            "aggregator": self.aggregator.get_state(),
            "alerter": self.alerter.get_state(), "counters": self.counters,
            "outputs": {name: size for name, size in zip(
                OUTPUTS, checkpoint.output_lengths(
                    [self.output_dir / n for n in OUTPUTS]).values())}})

    def plot(self):
        """Rewrites the trend PNGs from `windows.jsonl`."""
        if self.config.plots and self.unplotted:
            self.files["windows.jsonl"].flush()
            write_trend_plots(self.output_dir / "windows.jsonl",
                              self.output_dir)
            self.unplotted = False

    def run(self, reader, max_records=None):
        """Processes a `StreamReader` to its end (or `max_records`).

        The reader must have been made with `positions=self.positions`
        (see `run_monitor`). Checkpoints after each batch; while
        following, also whenever the reader has caught up.

        Args:
            reader: `tfllm.monitoring.stream.StreamReader`.
            max_records: int or None. Stop after this many lines
                (records and bad records) in this run, with a checkpoint
                (the next run resumes after them); the open windows stay
                open.

        Returns:
            dict: the counters, plus `seconds`, `stopped_early`,
            `resumed_after_records` (records done by earlier runs when this
            run resumed from a checkpoint, else None) and
            `classified_texts` (texts sent to the model in this run, when
            `classify` counts them, as `SavedModelLabeler` does).
        """
        start = time.perf_counter()
        resumed_after = self.counters["records"] if self.resumed else None
        batch, seen, stopped = [], 0, False
        for item in reader:
            if item is CAUGHT_UP:
                if batch:
                    self.process(batch)
                    batch = []
                self.checkpoint(reader.positions)
                self.plot()
                continue
            batch.append(item)
            seen += 1
            if max_records is not None and seen >= max_records:
                stopped = True
                break
            if len(batch) >= self.config.batch_size:
                self.process(batch)
                batch = []
                self.checkpoint(reader.positions)
        if batch:
            self.process(batch)
        if not stopped and not reader.follow and self.config.flush_at_end:
            self._test(self.aggregator.flush())
        self.checkpoint(reader.positions)
        self.plot()
        summary = dict(self.counters, seconds=time.perf_counter() - start,
                       stopped_early=stopped,
                       resumed_after_records=resumed_after,
                       classified_texts=getattr(self.classify, "classified",
                                                None))
        with atomic_path(self.output_dir / "summary.json") as t:
            t.write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    def close(self):
        for f in self.files.values():
            f.close()
        if self.scalars is not None:
            self.scalars.close()
