"""The built-in sample clip that `streamocr run` plays when no source is given."""

from __future__ import annotations

from pathlib import Path

from ..resources import package_file

SAMPLE_CLIP = package_file("streamocr.samples", "sudoku_sample.mp4")


def sample_clip() -> Path:
    """Path of the built-in sample clip (an 8 s, 640x480 H.264 MP4 of a printed puzzle)."""
    return SAMPLE_CLIP
