"""Class label lists, label ids, unknown labels and class weights.

The label list is sorted, so it never depends on file order or on Python's
string hash seed; it is saved with every model.
"""

import numpy as np

from tfllm.data.bad_rows import BadRows


def _names(label):
    return label if isinstance(label, list) else [label]


def build_class_list(examples):
    """Sorted list of every label of `examples` (`TextExample`s)."""
    return sorted({name for e in examples for name in _names(e.label)})


def check_labels(examples, id2label, bad_rows=None):
    """Keeps the examples whose labels are all in `id2label`.

    Args:
        examples: list of `TextExample`.
        id2label: list of str. The training label list.
        bad_rows: `BadRows` or None (None raises on the first unknown label).

    Returns:
        list of `TextExample` (all of them unless rows were skipped).

    Raises:
        DataFormatError: a label the training split does not have; the
            message names `file:line`, the label and the known labels.
    """
    bad_rows = bad_rows or BadRows()
    known = set(id2label)
    kept = []
    for example in examples:
        unknown = [n for n in _names(example.label) if n not in known]
        if unknown:
            shown = id2label if len(id2label) <= 12 else (
                id2label[:12] + ["..."])
            bad_rows.report(
                example.path, example.line,
                f"unknown label {unknown[0]!r}; the training labels are "
                f"{shown}",
            )
            continue
        kept.append(example)
    return kept


def label_ids(examples, id2label, multi_label=False):
    """Label ids `[n]` int32, or multi-hot `[n, num_labels]` float32."""
    index = {name: i for i, name in enumerate(id2label)}
    if not multi_label:
        return np.array([index[e.label] for e in examples], np.int32)
    multi_hot = np.zeros([len(examples), len(id2label)], np.float32)
    for row, example in enumerate(examples):
        for name in _names(example.label):
            multi_hot[row, index[name]] = 1.0
    return multi_hot


def balanced_class_weights(ids, num_classes):
    """Weights `n / (num_classes * count_c)`, as scikit-learn's "balanced".

    Args:
        ids: int array `[n]` of class ids.
        num_classes: int.

    Returns:
        float32 array `[num_classes]`; a class absent from `ids` gets 0.
    """
    counts = np.bincount(np.asarray(ids), minlength=num_classes)
    weights = np.zeros(num_classes, np.float32)
    present = counts > 0
    weights[present] = len(ids) / (present.sum() * counts[present])
    return weights
