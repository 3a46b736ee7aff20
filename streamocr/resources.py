"""Files shipped inside the package: the digit model and the documented default configuration.

They live in the checkout's top-level ``models/`` and ``configs/`` folders, which install as
the packages ``streamocr.models`` and ``streamocr.configs`` (``package-dir`` in
``pyproject.toml``), so one `importlib.resources` lookup finds them in an editable install and
in a wheel alike. This module imports neither OpenCV nor ONNX Runtime.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
_CHECKOUT_FOLDERS = {"streamocr.models": "models", "streamocr.configs": "configs"}


def package_file(package: str, name: str) -> Path:
    """Path of the data file `name` of `package` (a file on disk in any unzipped install)."""
    try:
        return Path(str(files(package).joinpath(name)))
    except ModuleNotFoundError:
        # An editable install made before models/ and configs/ became packages knows no
        # streamocr.models; its checkout still holds the files (`make` reinstalls it).
        if package not in _CHECKOUT_FOLDERS:
            raise
        return _CHECKOUT / _CHECKOUT_FOLDERS[package] / name


DEFAULT_MODEL: Path = package_file("streamocr.models", "digits.onnx")
"""The digit model (``models/digits.onnx`` in a checkout)."""

DEFAULT_CONFIG: Path = package_file("streamocr.configs", "default.toml")
"""Every configuration key with its default value (``configs/default.toml`` in a checkout)."""
