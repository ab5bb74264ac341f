import os
import subprocess
import sys

import pytest

from tfllm.data.tagging import build_label_list
from tfllm.data.tagging import inside_label_ids
from tfllm.data.tagging import iob1_to_iob2


def test_iob1_to_iob2():
    assert iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "I-ORG", "B-ORG",
                         "I-ORG"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-ORG", "B-ORG", "I-ORG"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O"]
    assert iob1_to_iob2(iob2) == iob2
    with pytest.raises(ValueError, match="not IOB"):
        iob1_to_iob2(["PER"])


def test_label_list_is_ordered_and_complete():
    labels = build_label_list([["B-PER", "O"], ["B-LOC", "I-ORG"]])
    assert labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER",
                      "I-PER"]
    assert inside_label_ids(labels) == [0, 2, 2, 4, 4, 6, 6]


@pytest.mark.parametrize("seed", ["0", "1", "2"])
def test_label_list_does_not_depend_on_hash_seed(seed):
    # Outside case BR-06: list(set(...)) changes order with PYTHONHASHSEED.
    code = ("from tfllm.data.tagging import build_label_list;"
            "print(build_label_list([['O','B-PER','I-PER','B-LOC','I-LOC',"
            "'B-ORG','I-ORG']]))")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        check=True, env=dict(os.environ, PYTHONHASHSEED=seed)).stdout
    assert out.strip() == str(
        ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"])
