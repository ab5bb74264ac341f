"""Build a seeded evaluation stream for the sentiment monitor.

From a labelled dataset (Financial PhraseBank AllAgree by default), one
stratified fold (`--folds`, `--fold`, `--fold-seed`: the splitter of
`tfllm train classifier --folds`) becomes the pool of stream sentences and the
other folds are written as `train.jsonl` for the classifier, so the monitor
classifies only sentences its classifier never saw. Writes to
`--output-dir`: `stream.jsonl` (records `{"id", "time", "topic", "text",
"gold"}`), `ground_truth.json` (the injected bursts) and `train.jsonl`.

Usage: tfllm make-sentiment-stream --output-dir sentiment_stream
(`python scripts/make_sentiment_stream.py` takes the same flags.)
"""


from tfllm.cli.args import build_parser as _build_parser
from tfllm.cli.args import run_cli
from tfllm.runs.sentiment_stream import StreamArgs
from tfllm.runs.sentiment_stream import write_stream

PARSER_CLASSES = [StreamArgs]


def build_parser(prog=None):
    """The argument parser of `tfllm make-sentiment-stream`."""
    return _build_parser(PARSER_CLASSES, __doc__, prog)


def main(argv=None):
    """Writes the stream; returns its folder (`pathlib.Path`)."""
    parser = build_parser()
    [args] = parser.instances(parser.parse_args(argv))
    result = write_stream(args)
    print(f"{result['records']} records in {args.windows} windows x "
          f"{len(result['topics'])} topics from {result['pool']} held-out "
          f"sentences (fold {args.fold}/{args.folds}); {result['bursts']} "
          f"bursts; {result['training']} training sentences -> "
          f"{result['output_dir']}")
    return result["output_dir"]


def cli():
    """Console-script entry point (exit status 0 on success)."""
    run_cli(main)


if __name__ == "__main__":
    cli()
