"""Sentiment-monitor runs (`tfllm monitor`): the settings
(`MonitorArgs`), the monitor they describe (`build_monitor`) and the
scoring of its alerts against a ground truth (`evaluate`)."""

import dataclasses
import json
import pathlib
from typing import Optional

from tfllm.apps.sentiment_monitor import MonitorConfig
from tfllm.apps.sentiment_monitor import SavedModelLabeler
from tfllm.apps.sentiment_monitor import SentimentMonitor
from tfllm.config import help_field as _help
from tfllm.data.errors import UserInputError
from tfllm.monitoring.alerts import AlertConfig
from tfllm.monitoring.evaluation import score_alerts
from tfllm.monitoring.topics import KeywordTopics
from tfllm.monitoring.topics import ModelTopics
from tfllm.monitoring.topics import parse_topic_keywords
from tfllm.monitoring.windows import parse_duration
from tfllm.utils.atomic import atomic_path


@dataclasses.dataclass
class MonitorArgs:
    """Flags of sentiment_monitor."""

    input: str = _help("a JSON-lines file, a folder of them, or - (stdin)",
                       "-")
    model: Optional[str] = _help("exported sentiment classifier (SavedModel "
                                 "version folder or export folder)")
    output_dir: str = _help("outputs and the restart checkpoint",
                            "sentiment_monitor")
    topic_model: Optional[str] = _help(
        "exported topic classifier for records without a topic field")
    topic_keywords: Optional[str] = _help(
        "zero-shot topics for records without a topic field: "
        "'name=kw,kw;name2=kw' (whole words, case-insensitive; unmatched: "
        "'other')")
    time_field: str = _help("JSON key of the time (ISO 8601 or Unix "
                            "seconds)", "time")
    text_field: str = _help("JSON key of the text", "text")
    topic_field: str = _help("JSON key of the record's own topic", "topic")
    pattern: str = _help("files read in an --input folder", "*.jsonl")
    window: str = _help("window length: 30m, 1h, 1d, ...", "1h")
    lateness: str = _help("records up to this long after their window's "
                          "end still count", "10m")
    negative_label: str = _help("the classifier's negative label",
                                "negative")
    batch_size: int = _help("records per classifier batch and checkpoint",
                            256)
    baseline_windows: int = _help("previous windows in the baseline", 48)
    min_baseline_windows: int = _help("no test before this many", 12)
    min_count: int = _help("no test on a window with fewer texts", 10)
    alpha: float = _help("family-wise false-alarm probability over "
                         "--expected-tests tests", 0.5)
    expected_tests: int = _help("windows x topics the alpha covers "
                                "(Bonferroni)", 1000)
    adapt_after: int = _help("significant windows in a row after which "
                             "they enter the baseline", 6)
    clear_after: int = _help("non-significant windows in a row that end an "
                             "alarm (1: alert on every rising edge)", 2)
    examples_per_alert: int = _help("example negative texts per alert", 3,
                                    aliases=["--max-examples"])
    follow: bool = _help("wait for new lines (and files) at the end", False)
    poll_seconds: float = _help("sleep between polls with --follow", 1.0)
    max_idle_seconds: Optional[float] = _help(
        "with --follow, stop after this long without new lines")
    max_records: Optional[int] = _help("stop after N lines (resumable)")
    flush_at_end: bool = _help("close the open windows when a finite "
                               "input ends", True)
    plots: bool = _help("write trend_<topic>.png", True)
    tensorboard: bool = _help("write TensorBoard scalars", True)
    evaluate: Optional[str] = _help("ground_truth.json of "
                                    "make_sentiment_stream: score alerts")


def topics_from_args(args):
    """The topic assigner of the flags: a topic classifier, keywords, or
    None (records carry their own topic)."""
    if args.topic_model and args.topic_keywords:
        raise UserInputError(
            "give --topic-model or --topic-keywords, not both")
    if args.topic_model:
        return ModelTopics(SavedModelLabeler(args.topic_model,
                                             args.batch_size))
    if args.topic_keywords:
        try:
            return KeywordTopics(parse_topic_keywords(args.topic_keywords))
        except ValueError as e:
            raise UserInputError(str(e)) from None
    return None


def build_monitor(args, classify=None):
    """A `SentimentMonitor` from the flags (`classify` overrides --model).

    Args:
        args: `MonitorArgs`.
        classify: callable or None. list of str -> labels; None: the
            SavedModel at `args.model`.

    Raises:
        UserInputError: no model, a bad duration or topic keywords.
    """
    if classify is None:
        if not args.model:
            raise UserInputError("give --model (an exported classifier)")
        classify = SavedModelLabeler(args.model, args.batch_size)
    try:
        config = MonitorConfig(
            window_seconds=parse_duration(args.window),
            lateness_seconds=parse_duration(args.lateness),
            batch_size=args.batch_size, negative_label=args.negative_label,
            max_examples=args.examples_per_alert,
            flush_at_end=args.flush_at_end,
            plots=args.plots, tensorboard=args.tensorboard)
    except ValueError as e:
        raise UserInputError(str(e)) from None
    alert_config = AlertConfig(
        args.baseline_windows, args.min_baseline_windows, args.min_count,
        args.alpha, args.expected_tests, args.adapt_after, args.clear_after)
    return SentimentMonitor(args.output_dir, classify, topics_from_args(args),
                            config, alert_config)


def evaluate(output_dir, truth_path):
    """Scores `alerts.jsonl` against a ground truth; writes evaluation.json."""
    truth = json.loads(pathlib.Path(truth_path).read_text())
    alerts_path = pathlib.Path(output_dir) / "alerts.jsonl"
    alerts = [json.loads(line) for line in alerts_path.read_text(
        ).splitlines()] if alerts_path.is_file() else []
    result = score_alerts(alerts, truth)
    print(f"alerts {result['alerts']}, bursts {result['bursts']}: precision "
          f"{result['precision']:.4f}, recall {result['recall']:.4f}, F1 "
          f"{result['f1']:.4f}; false alarms {result['false_alarms']} = "
          f"{result['false_alarms_per_1000_windows']:.3f} per 1,000 quiet "
          f"window x topic cells")
    with atomic_path(pathlib.Path(output_dir) / "evaluation.json") as temp:
        temp.write_text(json.dumps(result, indent=2) + "\n")
    return result
