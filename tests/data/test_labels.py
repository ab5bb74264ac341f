import numpy as np
import pytest

from tfllm.data.bad_rows import BadRows
from tfllm.data.errors import DataFormatError
from tfllm.data.labels import balanced_class_weights
from tfllm.data.labels import build_class_list
from tfllm.data.labels import check_labels
from tfllm.data.labels import label_ids
from tfllm.data.text_files import TextExample


def examples(labels):
    return [TextExample(f"t{i}", l, path="f.csv", line=i + 2)
            for i, l in enumerate(labels)]


def test_br06_class_list_is_sorted_not_first_appearance():
    data = examples(["book_flight", "greeting", "cancel", "greeting"])
    assert build_class_list(data) == ["book_flight", "cancel", "greeting"]
    assert label_ids(data, build_class_list(data)).tolist() == [0, 2, 1, 2]
    multi = examples([["b", "a"], ["c"]])
    assert build_class_list(multi) == ["a", "b", "c"]
    np.testing.assert_array_equal(
        label_ids(multi, ["a", "b", "c"], multi_label=True),
        [[1, 1, 0], [0, 0, 1]])


def test_unknown_labels_name_file_and_line():
    data = examples(["a", "b", "zzz"])
    with pytest.raises(DataFormatError,
                       match=r"f.csv:4: unknown label 'zzz'; the training "
                             r"labels are \['a', 'b'\]"):
        check_labels(data, ["a", "b"])
    bad = BadRows(skip=True)
    assert len(check_labels(data, ["a", "b"], bad)) == 2
    assert bad.count == 1


def test_balanced_class_weights_match_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    ids = np.array([0, 0, 0, 0, 1, 2, 2])
    expected = compute_class_weight("balanced", classes=np.arange(3), y=ids)
    np.testing.assert_allclose(balanced_class_weights(ids, 3), expected,
                               rtol=1e-6)
    assert balanced_class_weights(np.array([0, 0]), 2).tolist() == [1.0, 0.0]
