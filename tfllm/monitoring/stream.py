"""Timestamped JSON-lines records from a file, a folder of files, or stdin.

Each line is one JSON object with a time (`time` by default: ISO 8601,
`Z` or an offset; a naive time is taken as UTC; or a number of Unix
seconds), a text (`text`) and optionally a topic (`topic`). A line that is
not such an object is a *bad record*: it is yielded as a `BadRecord` naming
its source, line and what was wrong, so the caller counts and logs it; the
reader never stops on one.

Positions are resumable: `StreamReader.positions` maps each source to
`{"offset": bytes, "line": n}` after the last line handed out (for stdin,
the offset is the number of lines read; on resume that many lines are
skipped, which is right when the same stream is replayed; `offset` stays
0). Only complete
lines (ending in a newline) are read while following; without `follow`, a
last line without a newline is read at the end of its file.
"""

import dataclasses
import datetime
import json
import os
import pathlib
import select
import sys
import time

STDIN = "-"
CAUGHT_UP = None  # yielded while following, when all input has been read


@dataclasses.dataclass
class Record:
    """One parsed record.

    Attributes:
        time: float. Unix seconds (UTC).
        text: str.
        topic: str or None. The record's own topic field, if any.
        source: str. File path, or `-` for stdin.
        line: int. 1-based line number in `source`.
        data: dict. The whole JSON object (kept for the outputs).
    """

    time: float
    text: str
    topic: object
    source: str
    line: int
    data: dict


@dataclasses.dataclass
class BadRecord:
    """A line that could not be read as a record."""

    source: str
    line: int
    error: str
    raw: str

    def __str__(self):
        return f"{self.source}:{self.line}: {self.error}"


def parse_time(value):
    """Record time -> Unix seconds.

    Args:
        value: str (ISO 8601; `Z` allowed; naive = UTC) or int/float (Unix
            seconds).

    Returns:
        float.

    Raises:
        ValueError: anything else, or an unparsable string.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected an ISO 8601 string or Unix seconds, got "
                         f"{type(value).__name__}")
    if isinstance(value, (int, float)):
        return float(value)
    moment = datetime.datetime.fromisoformat(value.strip().replace("Z",
                                                                   "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def parse_line(raw, source, line, fields=("time", "text", "topic")):
    """One line -> `Record` or `BadRecord` (never raises).

    Args:
        raw: bytes. The line, newline included or not.
        source: str. For messages.
        line: int. 1-based line number.
        fields: (time key, text key, topic key).

    Returns:
        `Record`, `BadRecord`, or None for a blank line.
    """
    time_key, text_key, topic_key = fields
    try:
        text_line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return BadRecord(source, line, f"not UTF-8 ({e.reason} at byte "
                         f"{e.start})", raw[:200].decode("utf-8", "replace"))
    if not text_line.strip():
        return None

    def bad(error):
        return BadRecord(source, line, error, text_line.rstrip("\n")[:200])

    try:
        data = json.loads(text_line)
    except json.JSONDecodeError as e:
        return bad(f"not JSON ({e.msg} at column {e.colno}); expected one "
                   "JSON object per line")
    if not isinstance(data, dict):
        return bad(f"expected a JSON object, got {type(data).__name__}")
    if time_key not in data:
        return bad(f"no {time_key!r} field")
    text = data.get(text_key)
    if not isinstance(text, str) or not text.strip():
        return bad(f"{text_key!r} must be a non-empty string")
    try:
        seconds = parse_time(data[time_key])
    except ValueError as e:
        return bad(f"{time_key!r}: {e}")
    topic = data.get(topic_key)
    if topic is not None and not isinstance(topic, str):
        return bad(f"{topic_key!r} must be a string")
    return Record(seconds, text, topic or None, source, line, data)


class StreamReader:
    """Yields records from a file, a folder's `*.jsonl` files, or stdin.

    Args:
        source: str. A file, a folder (its `pattern` files in name order;
            new files are picked up while following) or `-` (stdin).
        positions: dict or None. `positions` of an earlier reader, to
            resume after its last line.
        follow: bool. At the end of the input, wait for more (poll every
            `poll_seconds`) instead of stopping.
        poll_seconds: float. Sleep between polls while following.
        max_idle_seconds: float or None. While following, stop after this
            long without a new line; None: follow until interrupted.
        fields: (time key, text key, topic key).
        pattern: str. Glob of the files read in a folder.

    Raises:
        FileNotFoundError: `source` does not exist.
    """

    def __init__(self, source, positions=None, follow=False,
                 poll_seconds=1.0, max_idle_seconds=None,
                 fields=("time", "text", "topic"), pattern="*.jsonl"):
        self.source = source
        if source != STDIN and not pathlib.Path(source).exists():
            raise FileNotFoundError(f"{source}: no such file or folder")
        self.positions = dict(positions or {})
        self.follow = follow
        self.poll_seconds = poll_seconds
        self.max_idle_seconds = max_idle_seconds
        self.fields = tuple(fields)
        self.pattern = pattern

    def _files(self):
        path = pathlib.Path(self.source)
        if path.is_dir():
            return sorted(str(p) for p in path.glob(self.pattern)
                          if p.is_file())
        return [str(path)]

    def _read_file(self, name):
        """Yields records of `name` after its saved position."""
        position = self.positions.get(name, {"offset": 0, "line": 0})
        with open(name, "rb") as f:
            f.seek(position["offset"])
            while True:
                raw = f.readline()
                if not raw or (not raw.endswith(b"\n") and self.follow):
                    return  # nothing new, or a line still being written
                position = {"offset": position["offset"] + len(raw),
                            "line": position["line"] + 1}
                self.positions[name] = position
                item = parse_line(raw, name, position["line"], self.fields)
                if item is not None:
                    yield item

    def _stdin_lines(self):
        """Raw lines of stdin; while following, `CAUGHT_UP` when idle.

        Following uses `select` on the file descriptor (POSIX), so a live
        pipe (`tail -f feed | ...`) is processed as lines arrive instead of
        waiting for a full batch.
        """
        stream = sys.stdin.buffer
        if not self.follow:
            yield from iter(stream.readline, b"")
            return
        fd = stream.fileno()
        pending = b""
        idle_since = time.monotonic()
        while True:
            ready, _, _ = select.select([fd], [], [], self.poll_seconds)
            if not ready:
                yield CAUGHT_UP
                if (self.max_idle_seconds is not None and
                        time.monotonic() - idle_since >=
                        self.max_idle_seconds):
                    return
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # the writer closed the pipe
                if pending:
                    yield pending
                return
            idle_since = time.monotonic()
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                yield line + b"\n"

    def _read_stdin(self):
        position = self.positions.get(STDIN, {"offset": 0, "line": 0})
        skip = position["line"]  # a replayed stream: skip what was done
        for raw in self._stdin_lines():
            if raw is CAUGHT_UP:
                yield CAUGHT_UP
                continue
            if skip:
                skip -= 1
                continue
            position = {"offset": 0, "line": position["line"] + 1}
            self.positions[STDIN] = position
            item = parse_line(raw, STDIN, position["line"], self.fields)
            if item is not None:
                yield item

    def __iter__(self):
        """Yields `Record`s and `BadRecord`s in arrival order.

        While following, `CAUGHT_UP` is yielded whenever the reader has
        read everything there is (before it sleeps), so the caller can
        process a part-filled batch and checkpoint.
        """
        if self.source == STDIN:
            yield from self._read_stdin()
            return
        idle_since = time.monotonic()
        while True:
            got = False
            for name in self._files():
                for item in self._read_file(name):
                    got = True
                    yield item
            if not self.follow:
                return
            yield CAUGHT_UP
            if got:
                idle_since = time.monotonic()
            elif (self.max_idle_seconds is not None and
                  time.monotonic() - idle_since >= self.max_idle_seconds):
                return
            else:
                time.sleep(self.poll_seconds)
