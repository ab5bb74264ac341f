import collections

import pytest

from tfllm.data.text_files import TextExample
from tfllm.prompting.demonstrations import sample_demonstrations

EXAMPLES = ([TextExample(f"a{i}", "a") for i in range(20)]
            + [TextExample(f"b{i}", "b") for i in range(3)]
            + [TextExample(f"c{i}", "c") for i in range(10)]
            + [TextExample("d0", "d")])


def test_stratified_over_the_labels():
    drawn = sample_demonstrations(EXAMPLES, 6, ["a", "b", "c"], seed=1)
    assert collections.Counter(e.label for e in drawn) == {
        "a": 2, "b": 2, "c": 2}
    assert len({e.text for e in drawn}) == 6  # without replacement
    uneven = sample_demonstrations(EXAMPLES, 8, ["a", "b", "c"], seed=1)
    counts = collections.Counter(e.label for e in uneven)
    assert sorted(counts.values()) == [2, 3, 3]
    # "d" is not a requested label and is never drawn.
    assert "d" not in counts


def test_the_seed_fixes_the_draw_and_the_order():
    first = sample_demonstrations(EXAMPLES, 6, ["a", "c"], seed=7)
    again = sample_demonstrations(EXAMPLES, 6, ["a", "c"], seed=7)
    other = sample_demonstrations(EXAMPLES, 6, ["a", "c"], seed=8)
    assert [e.text for e in first] == [e.text for e in again]
    assert [e.text for e in first] != [e.text for e in other]


def test_errors():
    assert sample_demonstrations(EXAMPLES, 0, ["a"]) == []
    with pytest.raises(ValueError, match="label 'b'; the training file has 3"):
        sample_demonstrations(EXAMPLES, 8, ["a", "b"])
    with pytest.raises(ValueError, match=">= 0"):
        sample_demonstrations(EXAMPLES, -1, ["a"])
