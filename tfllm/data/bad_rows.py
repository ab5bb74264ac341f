"""Bad input rows: fail with `file:line`, or count and report them."""

import collections

from tfllm.data.errors import DataFormatError


class BadRows:
    """Decides what happens to a row that cannot be used.

    By default the first bad row raises a `DataFormatError` naming the file
    and line. With `skip=True` the row is left out, and counted and kept for
    the run's report: nothing is dropped silently.

    Args:
        skip: bool. Skip and count bad rows instead of raising. Default
            False.

    Examples:
    ```python
    bad = BadRows(skip=True)
    bad.report("train.csv", 7, "empty text")
    bad.count  # 1
    ```
    """

    def __init__(self, skip=False):
        self.skip = skip
        self.rows = []

    def report(self, path, line, reason):
        """Raises, or records the row when skipping.

        Args:
            path: str or path. The file.
            line: int. 1-based line where the row starts.
            reason: str. What is wrong and what was expected.

        Raises:
            DataFormatError: `skip` is False.
        """
        if not self.skip:
            raise DataFormatError(
                path, line, f"{reason} (or pass --skip-bad-rows to skip and "
                "count such rows)"
            )
        self.rows.append({"path": str(path), "line": line, "reason": reason})

    @property
    def count(self):
        return len(self.rows)

    def summary(self):
        """JSON-able summary: total and count per file and reason."""
        by_file = collections.Counter(row["path"] for row in self.rows)
        return {"skipped_rows": self.count, "per_file": dict(by_file),
                "rows": self.rows}
