"""Monitor a stream of timestamped texts for bursts of negative sentiment.

Reads JSON lines (`{"time": "2026-01-05T10:00:00Z", "text": "...",
"topic": "..."}`) from a file, a folder of `*.jsonl` files or stdin (`-`),
classifies sentiment in batches with an exported classifier
(`tfllm train classifier --export-dir`), counts labels per topic per window,
and alerts when a window's negative share is significantly above the
topic's rolling baseline (one-sided exact binomial test, Bonferroni-
corrected; see tfllm/monitoring/alerts.py). Writes alerts.jsonl,
windows.jsonl, trend_<topic>.png, TensorBoard scalars and a restart
checkpoint to --output-dir; rerun the same command to resume.
`--evaluate ground_truth.json` scores the alerts against the bursts of a
`tfllm make-sentiment-stream` stream.

Usage: tfllm monitor --model saved_models/sentiment --input stream.jsonl
(`python scripts/sentiment_monitor.py` takes the same flags.)
"""


from tfllm.cli.args import build_parser as _build_parser
from tfllm.cli.args import run_cli
from tfllm.monitoring.stream import StreamReader
from tfllm.runs.sentiment_monitor import MonitorArgs
from tfllm.runs.sentiment_monitor import build_monitor
from tfllm.runs.sentiment_monitor import evaluate
from tfllm.runs.sentiment_monitor import topics_from_args  # noqa: F401

PARSER_CLASSES = [MonitorArgs]


def build_parser(prog=None):
    """The argument parser of `tfllm monitor` (flags: `MonitorArgs`)."""
    return _build_parser(PARSER_CLASSES, __doc__, prog)


def main(argv=None, classify=None):
    """Runs the monitor; `classify` (list of str -> labels) is for tests."""
    parser = build_parser()
    [args] = parser.instances(parser.parse_args(argv))
    monitor = build_monitor(args, classify)
    try:
        reader = StreamReader(
            args.input, monitor.positions, args.follow, args.poll_seconds,
            args.max_idle_seconds,
            (args.time_field, args.text_field, args.topic_field),
            args.pattern)
        if monitor.resumed:
            print(f"resuming from {monitor.state_path} "
                  f"({monitor.counters['records']} records done)")
        summary = monitor.run(reader, args.max_records)
    finally:
        monitor.close()
    print(f"{summary['records']} records, {summary['bad_records']} bad, "
          f"{summary['late_records']} late; {summary['windows']} windows x "
          f"topics closed; {summary['alerts']} alerts; "
          f"{summary['seconds']:.1f} s -> {args.output_dir}")
    if args.evaluate:
        summary["evaluation"] = evaluate(args.output_dir, args.evaluate)
    return summary


def cli():
    """Console-script entry point (exit status 0 on success)."""
    run_cli(main)


if __name__ == "__main__":
    cli()
