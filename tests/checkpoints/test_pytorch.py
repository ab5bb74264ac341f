import zipfile

import numpy as np
import pytest

from tiny_m3e import contiguous
from tiny_m3e import write_torch_zip

from tfllm.checkpoints.pytorch import read_state_dict


def test_strided_views_of_a_shared_storage(tmp_path):
    """Offsets and strides count elements, as in PyTorch: a transposed view
    and a slice at offset 6 of one storage, beside an int64 buffer."""
    storage = np.arange(12, dtype=np.float32)
    path = write_torch_zip(tmp_path / "m.bin", {
        "matrix": ("0", storage, 0, (3, 2), (2, 1)),
        "transposed": ("0", storage, 0, (2, 3), (1, 2)),
        "tail": ("0", storage, 6, (2, 3), (3, 1)),
        "ids": contiguous("1", np.array([[7, 8, 9]])),
        "half": contiguous("2", np.array([0.5, -2.0], np.float16)),
    })
    state = read_state_dict(path)
    assert list(state) == ["matrix", "transposed", "tail", "ids", "half"]
    assert state["matrix"].tolist() == [[0, 1], [2, 3], [4, 5]]
    assert state["transposed"].tolist() == [[0, 2, 4], [1, 3, 5]]
    assert state["tail"].tolist() == [[6, 7, 8], [9, 10, 11]]
    assert state["ids"].dtype == np.int64 and state["ids"].tolist() == [
        [7, 8, 9]]
    assert state["half"].dtype == np.float16
    assert state["transposed"].flags["C_CONTIGUOUS"]


def test_refuses_code_and_names_the_file(tmp_path):
    path = write_torch_zip(tmp_path / "evil.bin",
                           {"w": contiguous("0", np.ones(2, np.float32))},
                           extra_global="os\nsystem")
    with pytest.raises(ValueError, match="evil.bin.*refusing.*os.system"):
        read_state_dict(path)


def test_bad_files(tmp_path):
    legacy = tmp_path / "legacy.bin"
    legacy.write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.")
    with pytest.raises(ValueError, match="legacy.bin: not a zip-format"):
        read_state_dict(legacy)
    short = write_torch_zip(tmp_path / "short.bin", {
        "w": ("0", np.zeros(4, np.float32), 2, (2, 2), (2, 1))})
    with pytest.raises(ValueError, match="runs past its storage"):
        read_state_dict(short)
    missing = tmp_path / "missing.bin"
    with zipfile.ZipFile(short) as src, zipfile.ZipFile(missing, "w") as dst:
        dst.writestr("archive/data.pkl", src.read("archive/data.pkl"))
    with pytest.raises(ValueError, match="missing.bin: storage "
                                         "archive/data/0 is missing"):
        read_state_dict(missing)
