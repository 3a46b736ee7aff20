"""Shared fixtures: seeded synthetic photos and the dataset location."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from streamocr.synth.builders import SyntheticPhoto, synthetic_photo  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PHOTOS = REPO.parent / "shared" / "data" / "sudoku_photos"


@pytest.fixture
def photo() -> SyntheticPhoto:
    """A synthetic photo of a printed puzzle, warped and lit unevenly."""
    return synthetic_photo(seed=1)


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    """The labelled photo folders; tests that need them skip where they are absent."""
    if not PHOTOS.is_dir():
        pytest.skip(f"dataset not found at {PHOTOS}")
    return PHOTOS
