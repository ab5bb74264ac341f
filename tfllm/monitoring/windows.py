"""Label counts per topic per fixed time window, with a watermark.

Windows are aligned to the Unix epoch: window `w` covers
`[w * window_seconds, (w + 1) * window_seconds)` seconds (UTC), so an hourly
window starts on the hour. Records may arrive out of order. The
*watermark* is the latest record time seen; window `w` is closed (its
counts final, handed to the alert test) once the watermark reaches its end
plus `lateness_seconds`. A record for a window that is already closed is
*late*: it is not counted (its window's alert has been decided) and
`add` says so, so the caller logs it; nothing is dropped silently. Closed
windows are emitted for every topic seen so far, empty ones included, in
window order then topic order (as the Flink/Beam event-time model with
allowed lateness).
"""

import dataclasses

# More empty windows than this between two records are not emitted one by
# one (a stream that pauses for a year would emit 8,760 hourly rows).
MAX_EMPTY_RUN = 10000


@dataclasses.dataclass
class ClosedWindow:
    """One topic's final counts in one window.

    Attributes:
        window: int. Window number (start = window * window_seconds).
        topic: str.
        counts: dict label -> int.
        examples: list of str. Up to `max_examples` texts with the
            `example_label` label, in arrival order.
    """

    window: int
    topic: str
    counts: dict
    examples: list

    @property
    def total(self):
        return sum(self.counts.values())


class WindowAggregator:
    """Counts labels per (window, topic); closes windows by watermark.

    Args:
        window_seconds: float > 0. Window length.
        lateness_seconds: float >= 0. How long after a window's end its
            records are still counted.
        max_examples: int. Example texts kept per (window, topic).
        example_label: str. The label whose texts are kept as examples.

    Raises:
        ValueError: a non-positive window or negative lateness.
    """

    def __init__(self, window_seconds, lateness_seconds=0.0, max_examples=3,
                 example_label="negative"):
        if window_seconds <= 0 or lateness_seconds < 0:
            raise ValueError(f"window must be > 0 s and lateness >= 0 s, got "
                             f"{window_seconds} and {lateness_seconds}")
        self.window_seconds = float(window_seconds)
        self.lateness_seconds = float(lateness_seconds)
        self.max_examples = max_examples
        self.example_label = example_label
        self.watermark = None
        self.closed_before = None  # every window < this one is closed
        self.open = {}  # window -> topic -> {"counts": {}, "examples": []}
        self.topics = []

    def window_of(self, seconds):
        """Window number of a time in Unix seconds."""
        return int(seconds // self.window_seconds)

    def add(self, seconds, topic, label, text):
        """Counts one classified record.

        Args:
            seconds: float. Record time, Unix seconds.
            topic: str.
            label: str. Its predicted label.
            text: str.

        Returns:
            bool: True if counted, False if late (its window is closed).
        """
        window = self.window_of(seconds)
        if self.watermark is None or seconds > self.watermark:
            self.watermark = seconds
        if self.closed_before is not None and window < self.closed_before:
            return False
        if topic not in self.topics:
            self.topics.append(topic)
        cell = self.open.setdefault(window, {}).setdefault(
            topic, {"counts": {}, "examples": []})
        cell["counts"][label] = cell["counts"].get(label, 0) + 1
        if (label == self.example_label and
                len(cell["examples"]) < self.max_examples):
            cell["examples"].append(text)
        return True

    def advance(self):
        """Closes the windows the watermark has passed (plus lateness).

        Returns:
            list of `ClosedWindow`, by window then topic (sorted).
        """
        if self.watermark is None:
            return []
        limit = int((self.watermark - self.lateness_seconds)
                    // self.window_seconds)
        return self._close_before(limit)

    def flush(self):
        """Closes every open window (the end of a finite stream)."""
        if not self.open:
            return []
        return self._close_before(max(self.open) + 1)

    def _close_before(self, limit):
        start = self.closed_before
        if start is None:
            start = min(self.open) if self.open else limit
        if start >= limit:
            return []
        windows = range(start, limit)
        if limit - start > MAX_EMPTY_RUN:
            windows = sorted(w for w in self.open if w < limit)
        closed = []
        for window in windows:
            cells = self.open.pop(window, {})
            for topic in sorted(self.topics):
                cell = cells.get(topic, {"counts": {}, "examples": []})
                closed.append(ClosedWindow(window, topic, cell["counts"],
                                           cell["examples"]))
        self.closed_before = limit
        return closed

    def get_state(self):
        """JSON-able state (`set_state` restores it)."""
        return {"watermark": self.watermark,
                "closed_before": self.closed_before,
                "topics": list(self.topics),
                "open": {str(w): cells for w, cells in self.open.items()}}

    def set_state(self, state):
        self.watermark = state["watermark"]
        self.closed_before = state["closed_before"]
        self.topics = list(state["topics"])
        self.open = {int(w): cells for w, cells in state["open"].items()}


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text):
    """`"90s"`, `"15m"`, `"1h"`, `"1d"` (or plain seconds) -> seconds.

    Raises:
        ValueError: another form, or a negative value.
    """
    text = str(text).strip().lower()
    try:
        if text and text[-1] in _UNITS:
            seconds = float(text[:-1]) * _UNITS[text[-1]]
        else:
            seconds = float(text)
    except ValueError:
        raise ValueError(f"duration {text!r}: expected a number with s, m, "
                         "h or d (e.g. 1h)") from None
    if seconds < 0:
        raise ValueError(f"duration {text!r} is negative")
    return seconds
