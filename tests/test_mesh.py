"""Straightening a curved page: lines back on their ninths."""

import cv2
import numpy as np
import pytest

from streamocr.mesh import straighten
from streamocr.synth.builders import render_grid

CELL = 40


def _flat_grid() -> np.ndarray:
    grid = cv2.cvtColor(render_grid(cell_px=CELL, seed=2), cv2.COLOR_BGR2GRAY)
    return cv2.resize(grid, (9 * CELL, 9 * CELL), interpolation=cv2.INTER_AREA)


def _bend(gray: np.ndarray, amplitude_px: float) -> np.ndarray:
    """A page curling along its middle: rows sag by up to `amplitude_px` at mid-width."""
    size = gray.shape[0]
    xs, ys = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    sag = amplitude_px * np.sin(np.pi * xs / size) * np.sin(np.pi * ys / size)
    return cv2.remap(gray, xs, ys - sag, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _row_line_offsets(gray: np.ndarray) -> np.ndarray:
    """Where the inner horizontal lines are, at mid-width, relative to their ninths."""
    size = gray.shape[0]
    column = 255 - gray[:, size // 2 - 20 : size // 2 + 20].mean(axis=1)
    found = []
    for k in range(1, 9):
        window = column[k * CELL - 12 : k * CELL + 13]
        found.append(int(np.argmax(window)) - 12)
    return np.array(found)


@pytest.mark.parametrize("amplitude_px", [6.0, 10.0])
def test_bent_rows_come_back_to_their_ninths(amplitude_px):
    bent = _bend(_flat_grid(), amplitude_px)
    assert np.abs(_row_line_offsets(bent)).max() >= amplitude_px * 0.6  # really bent
    assert np.abs(_row_line_offsets(straighten(bent))).max() <= 1


def test_flat_grid_stays_flat():
    flat = _flat_grid()
    assert np.abs(_row_line_offsets(straighten(flat))).max() <= 1


def test_blank_square_is_left_alone():
    blank = np.full((9 * CELL, 9 * CELL), 200, np.uint8)
    assert straighten(blank) is blank
