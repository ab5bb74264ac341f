"""Batch files for human labelling: the selected items go out as JSON lines
(`id`, `text`, empty `label`) and come back with `label` filled in."""

import json
import pathlib

from tfllm.data.errors import DataFormatError


def write_batch(path, ids, texts):
    """Writes items to label, one JSON object a line.

    Args:
        path: str or path. The JSONL file (parent folders are created).
        ids: sequence of int or str. The items' pool ids.
        texts: sequence of str (or word lists for NER, written joined by
            spaces with the words under `words`), aligned with `ids`.

    Returns:
        `pathlib.Path` of the file.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for item_id, text in zip(ids, texts):
            row = {"id": item_id}
            if isinstance(text, str):
                row["text"] = text
            else:
                row["text"] = " ".join(text)
                row["words"] = list(text)
            row["label"] = ""
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def read_labelled_batch(path, labels, expected_ids=None):
    """Reads a labelled batch file back.

    Args:
        path: str or path. JSONL written by `write_batch`, with `label`
            set on every line (a str from `labels`).
        labels: collection of str. The allowed label names.
        expected_ids: collection of the ids that were sent out, or None
            (then any id is accepted). Every one must come back once.

    Returns:
        dict id -> label, in file order.

    Raises:
        DataFormatError: `file:line:` a malformed JSON line, a line that is
            not an object, a missing `id`, an empty or unknown `label`, an
            id given twice or not sent out; `file:` ids sent out and
            missing from the file.
        FileNotFoundError: no such file.
    """
    path = pathlib.Path(path)
    allowed = set(labels)
    expected = None if expected_ids is None else {
        str(i): i for i in expected_ids}
    result = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFormatError(path, number, f"not valid JSON "
                                      f"({error.msg}); expected an object "
                                      "with id, text and label") from None
            if not isinstance(row, dict) or "id" not in row:
                raise DataFormatError(path, number, "expected a JSON object "
                                      "with an `id` (and `label`)")
            key = str(row["id"])
            label = row.get("label")
            if label is None or (isinstance(label, str) and not label.strip()):
                raise DataFormatError(path, number, f"id {row['id']!r} has "
                                      "an empty label; fill in one of: "
                                      + _listing(allowed))
            if not isinstance(label, str) or label not in allowed:
                raise DataFormatError(path, number, f"unknown label "
                                      f"{label!r}; expected one of: "
                                      + _listing(allowed))
            if expected is not None and key not in expected:
                raise DataFormatError(path, number, f"id {row['id']!r} was "
                                      "not in the batch sent out")
            item_id = expected[key] if expected is not None else row["id"]
            if item_id in result:
                raise DataFormatError(path, number, f"id {row['id']!r} "
                                      "appears twice")
            result[item_id] = label
    if expected is not None:
        missing = [i for k, i in expected.items() if i not in result]
        if missing:
            raise DataFormatError(path, None, f"{len(missing)} ids of the "
                                  f"batch have no line: {missing[:10]}")
    return result


def _listing(labels, limit=20):
    names = sorted(labels)
    more = f", ... ({len(names)} labels)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
