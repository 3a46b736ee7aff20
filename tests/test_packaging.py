"""Packaging: what the wheel holds, and a wheel installed away from the checkout at work."""

from __future__ import annotations

import tomllib
from pathlib import Path

from streamocr.resources import DEFAULT_CONFIG, DEFAULT_MODEL

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_package_of_the_tree_is_listed():
    # packages.find cannot be used beside the package-dir mapping of models/ and configs/,
    # so a new subpackage must be added to pyproject.toml by hand, or the wheel lacks it.
    tree = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "streamocr").rglob("__init__.py")
    }
    mapped = set(SETUPTOOLS["package-dir"])
    assert set(SETUPTOOLS["packages"]) == tree | mapped


def test_the_data_packages_are_the_top_level_folders():
    assert SETUPTOOLS["package-dir"] == {
        "streamocr.models": "models",
        "streamocr.configs": "configs",
    }
    # In this checkout's (editable) install the package data are the checkout's own files.
    assert DEFAULT_MODEL.resolve() == REPO / "models" / "digits.onnx"
    assert DEFAULT_CONFIG.resolve() == REPO / "configs" / "default.toml"
