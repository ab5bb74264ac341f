"""A seeded evaluation stream: a baseline mix with injected negative bursts.

The stream is built from labelled sentences (Financial PhraseBank in the
benchmark). Each (window, topic) cell gets `Poisson(texts_per_window)`
sentences drawn uniformly, with replacement, from the held-out pool, so the
negative share follows the pool's label mix (about 13% negative for
PhraseBank AllAgree). `bursts` non-overlapping bursts of 1 to
`max_burst_windows` consecutive windows, each in one topic, add
`burst_negatives` extra sentences with the gold label `negative` to each of
their cells. The bursts are written to the ground truth, so alerts can be
scored (`tfllm.monitoring.evaluation`).

The pool must hold only sentences the monitored classifier did not train
on: `split_folds` takes one stratified fold (the same `StratifiedKFold`
splitter and seed as `train_classifier.py --folds`) as the pool and returns
the other folds as the classifier's training set; held-out sentences whose
text also occurs in the training folds (PhraseBank repeats a few lines) are
removed from the pool.
"""

import dataclasses
import datetime

import numpy as np

from tfllm.data.splits import stratified_folds

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclasses.dataclass
class StreamSpec:
    """The shape of the evaluation stream.

    Attributes:
        windows: int. Number of time windows.
        window_seconds: int. Window length in seconds.
        start: str. ISO 8601 UTC start time; must be a multiple of
            `window_seconds` after the Unix epoch (windows are aligned).
        topics: tuple of str. Each record carries one in its `topic` field.
        texts_per_window: float. Mean (Poisson) texts per (window, topic).
        bursts: int. Injected bursts.
        max_burst_windows: int. A burst lasts 1..this many windows.
        burst_negatives: int. Extra negative texts per burst cell.
        warmup_windows: int. No burst starts before this window (the
            monitor needs a baseline first).
        gap_windows: int. Windows between two bursts (of any topic), at
            least.
        disorder_seconds: float. Each record's place in the file is its
            timestamp plus uniform noise of up to this many seconds, so
            nearby records arrive slightly out of order.
        seed: int. Seeds every draw.
    """

    windows: int = 1000
    window_seconds: int = 3600
    start: str = "2026-01-05T00:00:00Z"
    topics: tuple = ("equities", "credit")
    texts_per_window: float = 15.0
    bursts: int = 20
    max_burst_windows: int = 3
    burst_negatives: int = 10
    warmup_windows: int = 48
    gap_windows: int = 24
    disorder_seconds: float = 120.0
    seed: int = 0


def split_folds(examples, folds, fold, seed=42):
    """Held-out pool and training examples from one stratified fold.

    Args:
        examples: list of `TextExample` (single-label).
        folds: int >= 2. Number of stratified folds.
        fold: int in [1, folds]. The held-out fold (1-based, as
            `train_classifier.py --folds` numbers its `fold<k>` folders).
        seed: int. The splitter's seed (`train_classifier.py --seed`,
            default 42).

    Returns:
        `(pool, train)`: lists of `TextExample`; `pool` is the held-out
        fold minus any sentence whose text is also in `train`.

    Raises:
        ValueError: `fold` out of range (or bad `folds`, from scikit-learn).
    """
    if not 1 <= fold <= folds:
        raise ValueError(f"--fold must be in [1, {folds}], got {fold}")
    train_index, pool_index = stratified_folds(
        [e.label for e in examples], folds, seed)[fold - 1]
    train = [examples[i] for i in train_index]
    seen = {e.text for e in train}
    pool = [examples[i] for i in pool_index if examples[i].text not in seen]
    return pool, train


def _place_bursts(spec, rng):
    """Non-overlapping bursts: list of (topic, first_window, last_window)."""
    bursts = []
    busy = np.zeros(spec.windows, bool)
    attempts = 0
    while len(bursts) < spec.bursts:
        attempts += 1
        if attempts > 100 * max(spec.bursts, 1):
            raise ValueError(
                f"cannot place {spec.bursts} bursts with gaps of "
                f"{spec.gap_windows} in {spec.windows} windows after a "
                f"warm-up of {spec.warmup_windows}; use fewer bursts")
        length = int(rng.integers(1, spec.max_burst_windows + 1))
        first = int(rng.integers(spec.warmup_windows,
                                 spec.windows - length + 1))
        low = max(0, first - spec.gap_windows)
        if busy[low:first + length + spec.gap_windows].any():
            continue
        busy[first:first + length] = True
        topic = spec.topics[int(rng.integers(len(spec.topics)))]
        bursts.append((topic, first, first + length - 1))
    return sorted(bursts, key=lambda b: b[1])


def build_stream(pool, spec, negative_label="negative"):
    """Builds the records and ground truth of an evaluation stream.

    Args:
        pool: list of `TextExample`. Sentences to draw from (held out from
            the classifier); must include some with `negative_label`.
        spec: `StreamSpec`.
        negative_label: str. Gold label of the injected sentences.

    Returns:
        `(records, truth)`: `records` is a list of dicts `{"id", "time"
        (ISO 8601 UTC), "topic", "text", "gold"}` in arrival order;
        `truth` is a JSON-able dict with the spec, `windows`, `topics`,
        `window_seconds`, `start`, and `bursts` (list of `{"topic",
        "first_window", "last_window", "start", "end", "extra_negatives"}`,
        window numbers counted from `start`, `end` exclusive).

    Raises:
        ValueError: no negative sentence in the pool, a misaligned start,
            or bursts that do not fit.
    """
    rng = np.random.default_rng(spec.seed)
    negatives = [e for e in pool if e.label == negative_label]
    if not negatives:
        raise ValueError(f"no {negative_label!r} sentence in the pool")
    start = datetime.datetime.fromisoformat(spec.start.replace("Z", "+00:00"))
    start_seconds = (start - EPOCH).total_seconds()
    if start_seconds % spec.window_seconds:
        raise ValueError(f"start {spec.start} is not aligned to "
                         f"{spec.window_seconds}-second windows")
    bursts = _place_bursts(spec, rng)
    extra = {(t, w): spec.burst_negatives for t, a, b in bursts
             for w in range(a, b + 1)}
    rows = []
    for window in range(spec.windows):
        for topic in spec.topics:
            drawn = [pool[i] for i in rng.integers(
                len(pool), size=rng.poisson(spec.texts_per_window))]
            drawn += [negatives[i] for i in rng.integers(
                len(negatives), size=extra.get((topic, window), 0))]
            offsets = rng.uniform(0, spec.window_seconds, len(drawn))
            for example, offset in zip(drawn, offsets):
                t = start_seconds + window * spec.window_seconds + offset
                rows.append((t + rng.uniform(0, spec.disorder_seconds), t,
                             topic, example))
    rows.sort(key=lambda r: r[0])
    records = [{"id": i, "time": _iso(t), "topic": topic, "text": e.text,
                "gold": e.label}
               for i, (_, t, topic, e) in enumerate(rows)]
    truth = {
        "spec": dataclasses.asdict(spec),
        "windows": spec.windows, "topics": list(spec.topics),
        "window_seconds": spec.window_seconds, "start": spec.start,
        "records": len(records), "pool_sentences": len(pool),
        "pool_negative_sentences": len(negatives),
        "bursts": [{
            "topic": topic, "first_window": a, "last_window": b,
            "start": _iso(start_seconds + a * spec.window_seconds),
            "end": _iso(start_seconds + (b + 1) * spec.window_seconds),
            "extra_negatives": spec.burst_negatives,
        } for topic, a, b in bursts],
    }
    return records, truth


def _iso(seconds):
    """Unix seconds -> ISO 8601 UTC with milliseconds and a `Z`."""
    moment = EPOCH + datetime.timedelta(seconds=float(seconds))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
