"""Finding datasets on disk: `--data-dir`, `$TFLLM_DATA_DIR`, then TFDS.

tfllm never copies a dataset. A dataset named `name` is looked for in this
order: an explicit directory, `$TFLLM_DATA_DIR/<name>`, `../shared/data/<name>`
next to the repository checkout (the layout of the development machines),
and finally TensorFlow Datasets, which downloads and so needs a network.
"""

import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable."""


def find_dataset_dir(name, data_dir=None, required_files=("train.txt",)):
    """Returns the local directory that holds dataset `name`.

    Args:
        name: str. Dataset folder name, e.g. `"conll2003"`.
        data_dir: str or None. Explicit directory; wins when given.
        required_files: tuple of str. Files the directory must contain.

    Returns:
        `pathlib.Path` or None when no local copy exists (the caller may then
        try TFDS, see `load_tfds_conll2003`).

    Raises:
        DatasetNotFoundError: `data_dir` was given but lacks a required file.
    """
    if data_dir is not None:
        path = pathlib.Path(data_dir)
        missing = [f for f in required_files if not (path / f).is_file()]
        if missing:
            raise DatasetNotFoundError(
                f"--data-dir {path} has no {', '.join(missing)}; expected "
                f"the {name} files there"
            )
        return path
    candidates = []
    if os.environ.get("TFLLM_DATA_DIR"):
        candidates.append(pathlib.Path(os.environ["TFLLM_DATA_DIR"]) / name)
    candidates.append(REPO_ROOT.parent / "shared" / "data" / name)
    for path in candidates:
        if all((path / f).is_file() for f in required_files):
            return path
    return None


def load_tfds_conll2003(split):
    """Loads CoNLL-2003 from TensorFlow Datasets (needs a network once).

    Args:
        split: str. `"train"`, `"dev"` or `"test"`.

    Returns:
        list of `(words, tags)` pairs with IOB2 string tags.

    Raises:
        DatasetNotFoundError: tensorflow-datasets is not installed, or the
            download failed (offline). The message says how to point tfllm
            at local files instead.
    """
    hint = (
        "pass --data-dir DIR or set TFLLM_DATA_DIR so that "
        "$TFLLM_DATA_DIR/conll2003/train.txt exists (CoNLL column files)"
    )
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DatasetNotFoundError(
            "CoNLL-2003 not found locally and tensorflow-datasets is not "
            f"installed to download it; {hint}"
        ) from None
    try:
        dataset, info = tfds.load(
            "conll2003", split=split, with_info=True, download=True
        )
    except Exception as e:  # network errors come in many types
        raise DatasetNotFoundError(
            f"CoNLL-2003 not found locally and the TFDS download failed "
            f"(offline?): {e}; {hint}"
        ) from None
    names = info.features["ner"].feature.names
    sentences = []
    for example in dataset.as_numpy_iterator():
        words = [w.decode("utf-8") for w in example["tokens"]]
        tags = [names[i] for i in example["ner"]]
        sentences.append((words, tags))
    return sentences
