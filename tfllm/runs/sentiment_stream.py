"""Evaluation streams for the sentiment monitor
(`tfllm make-sentiment-stream`): settings (`StreamArgs`) and
`write_stream`, which builds a seeded stream from one held-out fold of a
labelled dataset and writes it with its ground truth and the other folds
as the classifier's training data."""

import dataclasses
import json
import pathlib
from typing import Optional

from tfllm.config import help_field as _help
from tfllm.data.classification_datasets import load_classification_dataset
from tfllm.monitoring.evaluation_stream import StreamSpec
from tfllm.monitoring.evaluation_stream import build_stream
from tfllm.monitoring.evaluation_stream import split_folds
from tfllm.utils.atomic import atomic_path


@dataclasses.dataclass
class StreamArgs:
    """Flags of make_sentiment_stream."""

    output_dir: str = _help("folder for stream.jsonl, ground_truth.json, "
                            "train.jsonl", "sentiment_stream")
    dataset: str = _help("a known single-label dataset with a "
                         "'negative' label", "fpb-allagree")
    data_dir: Optional[str] = _help("the dataset's folder; None: "
                                    "$TFLLM_DATA_DIR, then ../shared/data")
    folds: int = _help("stratified folds of the dataset", 5)
    fold: int = _help("the held-out fold (1-based) the stream draws from",
                      1)
    fold_seed: int = _help("the fold splitter's seed (train_classifier's "
                           "--seed)", 42)
    seed: int = _help("seeds the stream (draws, times, bursts)", 0)
    windows: int = _help("time windows", 1000)
    window_seconds: int = _help("window length in seconds", 3600)
    start: str = _help("ISO 8601 UTC start, window-aligned",
                       "2026-01-05T00:00:00Z")
    topics: str = _help("comma-separated topic names", "equities,credit")
    texts_per_window: float = _help("mean texts per window and topic "
                                    "(Poisson)", 15.0)
    bursts: int = _help("injected bursts", 20)
    max_burst_windows: int = _help("a burst lasts 1..N windows", 3)
    burst_negatives: int = _help("extra negative texts per burst window",
                                 10)
    warmup_windows: int = _help("no burst before this window", 48)
    gap_windows: int = _help("windows between bursts, at least", 24)
    disorder_seconds: float = _help("arrival-order noise in seconds", 120.0)


def _write_jsonl(path, rows):
    with atomic_path(path) as temp:
        with open(temp, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_stream(args):
    """Builds the stream `args` describes and writes it to
    `args.output_dir`: `stream.jsonl` (records `{"id", "time", "topic",
    "text", "gold"}`), `ground_truth.json` (the injected bursts and the
    source) and `train.jsonl` (the other folds, `{"text", "label"}`).

    Args:
        args: `StreamArgs`.

    Returns:
        dict: `output_dir` (`pathlib.Path`), `records` (int), `bursts`
        (int), `pool` (held-out sentences drawn from), `training`
        (training sentences), `topics` (tuple of str).

    Raises:
        DatasetNotFoundError: the dataset's folder is not found.
    """
    examples = load_classification_dataset(args.dataset, args.data_dir)[
        "train"]
    pool, train = split_folds(examples, args.folds, args.fold,
                              args.fold_seed)
    spec = StreamSpec(
        windows=args.windows, window_seconds=args.window_seconds,
        start=args.start, topics=tuple(args.topics.split(",")),
        texts_per_window=args.texts_per_window, bursts=args.bursts,
        max_burst_windows=args.max_burst_windows,
        burst_negatives=args.burst_negatives,
        warmup_windows=args.warmup_windows, gap_windows=args.gap_windows,
        disorder_seconds=args.disorder_seconds, seed=args.seed)
    records, truth = build_stream(pool, spec)
    truth["source"] = {"dataset": args.dataset, "folds": args.folds,
                       "fold": args.fold, "fold_seed": args.fold_seed,
                       "training_sentences": len(train)}
    out = pathlib.Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "stream.jsonl", records)
    _write_jsonl(out / "train.jsonl",
                 ({"text": e.text, "label": e.label} for e in train))
    with atomic_path(out / "ground_truth.json") as temp:
        temp.write_text(json.dumps(truth, indent=2) + "\n")
    return {"output_dir": out, "records": len(records),
            "bursts": len(truth["bursts"]), "pool": len(pool),
            "training": len(train), "topics": spec.topics}
