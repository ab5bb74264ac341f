"""Atomic writes: write aside, then rename into place.

A reader (TF Serving polling a model folder, a resumed run reading its last
checkpoint) never sees a half-written file or folder: `os.replace` of a file
or folder within one filesystem is atomic on POSIX.
"""

import contextlib
import os
import pathlib
import shutil


@contextlib.contextmanager
def atomic_path(final_path):
    """Yields a temporary sibling path; renames it to `final_path` on success.

    Works for files and folders. On an exception the temporary path is
    removed and `final_path` is left as it was.

    Args:
        final_path: str or path-like. Where the result must appear. An
            existing file is replaced; an existing folder is replaced too
            (removed just before the rename).

    Yields:
        `pathlib.Path`: the temporary path to write, in the same folder
        and with the same suffixes (so `.keras`/`.weights.h5` rules hold).
    """
    final_path = pathlib.Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    temp = final_path.with_name(f".tmp-{os.getpid()}-{final_path.name}")
    _remove(temp)
    try:
        yield temp
        if final_path.is_dir() and temp.is_dir():
            old = final_path.with_name(f".old-{os.getpid()}-{final_path.name}")
            os.replace(final_path, old)
            os.replace(temp, final_path)
            _remove(old)
        else:
            os.replace(temp, final_path)
    finally:
        _remove(temp)


def _remove(path):
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()
