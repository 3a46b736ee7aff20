"""The README's layout table and the package tree agree: every module is listed, every
listed path exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _listed_paths() -> set[str]:
    text = (REPO / "README.md").read_text()
    table = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    paths = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            paths.update(re.findall(r"`([^`]+)`", first_cell))
    return paths


def test_every_listed_path_exists():
    missing = sorted(p for p in _listed_paths() if not (REPO / p.rstrip("/")).exists())
    assert not missing, f"README layout lists paths that do not exist: {missing}"


def test_every_module_and_subpackage_is_listed():
    listed = _listed_paths()
    package = REPO / "streamocr"
    names = [f"streamocr/{p.name}" for p in package.glob("*.py") if p.name != "__main__.py"]
    names += [f"streamocr/{p.name}/" for p in package.iterdir() if (p / "__init__.py").exists()]
    unlisted = sorted(n for n in names if n not in listed)
    assert not unlisted, f"modules missing from the README layout table: {unlisted}"
