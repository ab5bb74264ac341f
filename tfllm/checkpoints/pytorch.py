"""Reading a PyTorch `state_dict` file into numpy arrays, without PyTorch.

`torch.save` (PyTorch >= 1.6) writes a zip archive (PyTorch's
`serialization.py`, "zipfile-based format"): one folder, named after the
file, holding `data.pkl` (a pickle of the state dict), `data/<key>` (one raw
little-endian buffer per storage), `version`, and, from PyTorch 2.1,
`byteorder`. In the pickle each tensor is a call
`torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
requires_grad, backward_hooks[, metadata])` whose `storage` is a persistent
id `("storage", torch.<Type>Storage, key, location, numel)`.

`read_state_dict` replays that pickle with a restricted unpickler: it builds
only the few names above (and `collections.OrderedDict`), so a file cannot
run code, and each tensor becomes a numpy view of its storage (offset, shape
and strides in elements, as PyTorch counts them), copied to a contiguous
array.
"""

import collections
import pathlib
import pickle
import zipfile

import numpy as np

# PyTorch storage class -> numpy dtype (little-endian, as `torch.save`
# writes on every platform it supports but s390x).
STORAGE_DTYPES = {
    "DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _StorageType:
    """Stands for `torch.<name>Storage` inside the pickle."""

    def __init__(self, name):
        self.name = name


def _bfloat16_to_float32(raw):
    """bfloat16 is the high half of a float32: shift the bits back."""
    return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(
        np.float32)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    """`torch._utils._rebuild_tensor_v2`: a strided view, copied."""
    size, stride = tuple(size), tuple(stride)
    if not size:
        return storage[offset].copy()
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if min(size) > 0 and last >= storage.size:
        raise ValueError(f"a tensor of shape {size} at offset {offset} runs "
                         f"past its storage of {storage.size} elements")
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size,
        strides=[s * storage.itemsize for s in stride])
    return np.ascontiguousarray(view)


def _rebuild_parameter(data, *unused):
    """`torch._utils._rebuild_parameter`: a Parameter is its data."""
    return data


class _Unpickler(pickle.Unpickler):
    """Builds tensors as numpy arrays and refuses every other global."""

    _GLOBALS = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, archive, prefix, path):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) in self._GLOBALS:
            return self._GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"{self.path}: refusing to load {module}.{name}; only tensors "
            "(torch._utils._rebuild_tensor_v2) and dicts are read")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5
                and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(
                f"{self.path}: unexpected persistent id {pid!r}; expected "
                "('storage', torch.<Type>Storage, key, location, numel)")
        _, kind, key, _, numel = pid
        if key not in self.storages:
            name = f"{self.prefix}data/{key}"
            try:
                raw = self.archive.read(name)
            except KeyError:
                raise ValueError(
                    f"{self.path}: storage {name} is missing") from None
            dtype = STORAGE_DTYPES[kind.name]
            array = (_bfloat16_to_float32(raw) if dtype == "bfloat16"
                     else np.frombuffer(raw, dtype))
            if array.size < numel:
                raise ValueError(f"{self.path}: storage {name} holds "
                                 f"{array.size} values, expected {numel}")
            self.storages[key] = array
        return self.storages[key]


def read_state_dict(path):
    """A `torch.save`d state dict (zip format) as numpy arrays.

    Args:
        path: str or path-like, e.g. a Hugging Face `pytorch_model.bin`.

    Returns:
        dict str -> numpy array (contiguous, the file's dtype; bfloat16
        becomes float32), in the file's order.

    Raises:
        ValueError: not a zip-format PyTorch file (the legacy pre-1.6
            format included), big-endian, a storage missing or too short,
            or a global other than tensors and dicts in the pickle; the
            message names the file.
    """
    path = pathlib.Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a zip-format PyTorch file (saved by "
                         "torch >= 1.6); re-save it with torch.save")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist()
                   if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ValueError(f"{path}: expected one data.pkl in the archive, "
                             f"found {len(pickles)}")
        prefix = pickles[0][:-len("data.pkl")]
        if prefix + "byteorder" in archive.namelist() and \
                archive.read(prefix + "byteorder").strip() != b"little":
            raise ValueError(f"{path}: big-endian tensors are not supported")
        with archive.open(pickles[0]) as file:
            try:
                state = _Unpickler(file, archive, prefix, path).load()
            except pickle.UnpicklingError as e:
                raise ValueError(str(e)) from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds a {type(state).__name__}, expected "
                         "a state dict (name -> tensor)")
    return dict(state)
