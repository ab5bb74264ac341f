"""Reading JSON-lines records: files, folders, stdin, bad lines, follow."""

import io
import json
import sys
import threading
import time

import pytest

from tfllm.monitoring.stream import CAUGHT_UP
from tfllm.monitoring.stream import BadRecord
from tfllm.monitoring.stream import Record
from tfllm.monitoring.stream import StreamReader
from tfllm.monitoring.stream import parse_time


def _line(t, text, **extra):
    return json.dumps({"time": t, "text": text, **extra}) + "\n"


def test_parse_time_forms():
    assert parse_time("1970-01-01T01:00:00Z") == 3600.0
    assert parse_time("1970-01-01T02:00:00+01:00") == 3600.0
    assert parse_time("1970-01-01T01:00:00") == 3600.0  # naive = UTC
    assert parse_time(90) == 90.0
    with pytest.raises(ValueError):
        parse_time("yesterday")
    with pytest.raises(ValueError):
        parse_time(True)


def test_bad_lines_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes((
        _line(10, "fine") + "{not json\n" + "\n" + '["a list"]\n'
        + _line("noon", "x") + json.dumps({"time": 5}) + "\n"
        + _line(20, "ok", topic="banks")).encode() + b"\xff\xfe\n")
    items = list(StreamReader(str(path)))
    bad = [i for i in items if isinstance(i, BadRecord)]
    good = [i for i in items if isinstance(i, Record)]
    assert [(g.line, g.text, g.topic) for g in good] == [
        (1, "fine", None), (7, "ok", "banks")]
    # Line 3 is blank: skipped without a report; every other line is one.
    assert [b.line for b in bad] == [2, 4, 5, 6, 8]
    assert str(bad[0]).startswith(f"{path}:2: not JSON")
    assert "expected a JSON object" in bad[1].error
    assert "'time'" in bad[2].error
    assert "'text'" in bad[3].error
    assert "not UTF-8" in bad[4].error


def test_resume_from_positions_and_folder_order(tmp_path):
    (tmp_path / "b.jsonl").write_text(_line(3, "b1") + _line(4, "b2"))
    (tmp_path / "a.jsonl").write_text(_line(1, "a1") + _line(2, "a2"))
    (tmp_path / "notes.txt").write_text("ignored\n")
    reader = StreamReader(str(tmp_path))
    first = []
    for item in reader:
        first.append(item.text)
        if len(first) == 3:
            break
    assert first == ["a1", "a2", "b1"]
    rest = [r.text for r in StreamReader(str(tmp_path), reader.positions)]
    assert rest == ["b2"]
    resumed = StreamReader(str(tmp_path), reader.positions)
    assert [r.line for r in resumed] == [2]


def test_stdin_and_missing_source(monkeypatch):
    data = (_line(1, "x") + _line(2, "y") + _line(3, "z")).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    resumed = StreamReader("-", {"-": {"offset": 0, "line": 1}})
    assert [r.text for r in resumed] == ["y", "z"]
    assert resumed.positions["-"]["line"] == 3
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        StreamReader("nope.jsonl")


def test_follow_stdin_pipe_yields_caught_up_between_lines(monkeypatch):
    import os

    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "stdin", open(read_end, "r"))

    def write():
        two = _line(2, "two")
        os.write(write_end, (_line(1, "one") + two[:-5]).encode())
        time.sleep(0.4)
        os.write(write_end, (two[-5:] + _line(3, "three")[:-1]).encode())
        os.close(write_end)  # the last line has no newline: still read

    writer = threading.Thread(target=write)
    writer.start()
    reader = StreamReader("-", {"-": {"offset": 0, "line": 0}}, follow=True,
                          poll_seconds=0.05)
    items = list(reader)
    writer.join()
    texts = [i.text if i is not CAUGHT_UP else "|" for i in items]
    # "one" arrives at once; the reader then waits (caught up) for the
    # rest of "two", which comes 0.4 s later.
    assert texts[0] == "one" and texts[-2:] == ["two", "three"]
    assert "|" in texts[1:-2] and set(texts[1:-2]) == {"|"}
    assert reader.positions["-"]["line"] == 3


def test_follow_picks_up_appended_lines_and_waits_for_whole_lines(tmp_path):
    path = tmp_path / "live.jsonl"
    path.write_text(_line(1, "first"))

    def append():
        time.sleep(0.3)
        with open(path, "a") as f:
            f.write(_line(2, "second")[:10])  # half a line ...
            f.flush()
            time.sleep(0.3)
            f.write(_line(2, "second")[10:])  # ... then the rest
            f.write(_line(3, "third"))

    writer = threading.Thread(target=append)
    writer.start()
    reader = StreamReader(str(path), follow=True, poll_seconds=0.05,
                          max_idle_seconds=1.0)
    items = list(reader)
    writer.join()
    texts = [i.text for i in items if i is not CAUGHT_UP]
    assert texts == ["first", "second", "third"]
    assert CAUGHT_UP in items
    assert reader.positions[str(path)]["line"] == 3
