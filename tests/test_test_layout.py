"""The test tree itself: pytest imports test files by basename.

The test folders are not packages (no `__init__.py`), so two test files
with one basename in different folders make the whole run fail to collect
("import file mismatch"), as tests/prompting/test_classifier.py and
tests/inference/test_classifier.py once did.
"""

import collections
import pathlib

TESTS = pathlib.Path(__file__).parent


def test_test_file_basenames_are_unique():
    seen = collections.defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"test files sharing a basename: {clashes}"
