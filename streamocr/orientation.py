"""Orientation: the four quarter turns of a grid's cells, and which one reads upright.

A page photographed sideways or upside down is read upright by cutting its cells once and
turning the 9 x 9 mosaic of cell inputs (each cell turns in place and moves) into all four
rotations, which go through the model in one batch. Rows ``k * 81 .. (k + 1) * 81`` of such
a batch hold rotation ``k`` (quarter turns counter-clockwise). Once a video board's
orientation is decided only that rotation is recognised. Every use of that layout goes
through this module.
"""

from __future__ import annotations

import numpy as np

from .grid import homography_for
from .solve import find_conflicts
from .types import CellBatch, GridDetection

ROTATIONS = 4  # quarter turns tried while the orientation is unknown


def rotation_rows(k: int) -> slice:
    """The rows of rotation `k` in a batch of cells cut in several rotations."""
    return slice(k * 81, (k + 1) * 81)


def all_rotations(batch: CellBatch) -> CellBatch:
    """The cells of an upright-cut grid in all four rotations (rows ``k * 81`` on)."""
    mosaic = batch.inputs.reshape(9, 9, 28, 28)
    turned = [np.rot90(np.rot90(mosaic, k, axes=(0, 1)), k, axes=(2, 3)) for k in range(4)]
    inputs = np.concatenate([t.reshape(81, 1, 28, 28) for t in turned])
    has_ink = np.concatenate([turn_cells(batch.has_ink, k) for k in range(4)])
    faint = None
    if batch.faint_ink is not None:
        faint = np.concatenate([turn_cells(batch.faint_ink, k) for k in range(4)])
    return CellBatch(batch.detection, np.ascontiguousarray(inputs), has_ink, ROTATIONS, faint)


def one_rotation(batch: CellBatch, k: int) -> CellBatch:
    """Only rotation `k` of a batch cut in all four."""
    rows = rotation_rows(k)
    faint = None if batch.faint_ink is None else batch.faint_ink[rows]
    return CellBatch(batch.detection, batch.inputs[rows], batch.has_ink[rows], 1, faint)


def turn_cells(mask: np.ndarray, k: int) -> np.ndarray:
    """An (81,) per-cell mask in the track's order, turned to rotation `k`'s order."""
    return np.rot90(mask.reshape(9, 9), k).reshape(81)


def rotate_detection(detection: GridDetection, quarter_turns: int) -> GridDetection:
    """The same grid with its top-left moved by `quarter_turns` counter-clockwise turns."""
    if quarter_turns % 4 == 0:
        return detection
    corners = np.roll(detection.corners, -quarter_turns, axis=0)
    return GridDetection(
        corners, homography_for(corners, detection.warp_size), detection.warp_size, detection.score
    )


def orientation_score(probabilities: np.ndarray, has_ink: np.ndarray) -> float:
    """How upright a grid looks: the summed log-probability of its best digit per inked cell."""
    if not has_ink.any():
        return 0.0
    return float(np.log(probabilities[has_ink, 1:].max(axis=1) + 1e-6).sum())


def choose_orientation(probabilities: np.ndarray, has_ink: np.ndarray, rotations: int) -> int:
    """The quarter turns under which the grid reads as an upright Sudoku.

    Each rotation's reading is ranked first by how few rule conflicts its digits have (a
    page read sideways puts its digits in random places: they clash), then by how sure the
    model is of its digits (`orientation_score`).
    """
    if rotations == 1:
        return 0
    ranked = []
    for k in range(rotations):
        rows = rotation_rows(k)
        digits = np.where(has_ink[rows], probabilities[rows, 1:].argmax(axis=1) + 1, 0)
        conflicts = len(find_conflicts(digits))
        ranked.append((conflicts, -orientation_score(probabilities[rows], has_ink[rows]), k))
    return min(ranked)[2]
