"""The package passes its type checker (mypy, configured in pyproject.toml) and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_the_package_is_marked_typed():
    assert (REPO / "streamocr" / "py.typed").is_file()


def test_mypy_passes():
    pytest.importorskip("mypy", reason="mypy comes with the extra 'test'")
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
