import pytest

from tfllm.data.bad_rows import BadRows
from tfllm.data.errors import DataFormatError


def test_raises_by_default_and_counts_when_skipping():
    with pytest.raises(DataFormatError, match="f.csv:7: empty text .*--skip"):
        BadRows().report("f.csv", 7, "empty text")
    bad = BadRows(skip=True)
    bad.report("f.csv", 7, "empty text")
    bad.report("g.csv", 2, "unknown label 'x'")
    assert bad.count == 2
    summary = bad.summary()
    assert summary["per_file"] == {"f.csv": 1, "g.csv": 1}
    assert summary["rows"][0] == {"path": "f.csv", "line": 7,
                                  "reason": "empty text"}
