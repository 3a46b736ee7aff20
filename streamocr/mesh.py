"""Straightening a curved or folded page: a mesh fitted to the grid's own lines.

One homography maps a flat grid exactly, but a page that bends across a fold or curls off
a spine moves the inner lines by a fifth of a cell or more, and cells cut along straight
ninths then hold a line remnant on one side and lose part of the digit on the other. Here
each of the ten horizontal and ten vertical lines is found in the warped grid near where a
flat page puts it, fitted with a gentle curve, and the grid is resampled so that every line
lands on its ninth again.
"""

from __future__ import annotations

import cv2
import numpy as np

from .preprocess import straight_runs, threshold_cells

_SEARCH = 0.3  # how far from its flat position a line is looked for, in cells
_SAMPLES = 18  # positions along a line where it is located


def _line_response(gray: np.ndarray, cell_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical line evidence (0..1) of a warped gray grid."""
    ink = threshold_cells(gray, cell_px)
    run = max(3, cell_px // 2)
    horizontal = straight_runs(ink, (1, run))
    vertical = straight_runs(ink, (run, 1))
    return horizontal.astype(np.float32) / 255, vertical.astype(np.float32) / 255


def _fit_line(response: np.ndarray, k: int, cell_px: int) -> np.ndarray | None:
    """Offsets (per pixel along the line) of horizontal line `k` from its flat position.

    Returns None when too little of the line is found to trust a fit.
    """
    size = response.shape[1]
    reach = int(_SEARCH * cell_px)
    expected = k * cell_px
    lo, hi = max(0, expected - reach), min(response.shape[0], expected + reach + 1)
    band = max(2, size // (2 * _SAMPLES))
    xs, offsets = [], []
    for x in np.linspace(band, size - band - 1, _SAMPLES):
        x0, x1 = int(x) - band, int(x) + band
        profile = response[lo:hi, x0:x1].mean(axis=1)
        if profile.size == 0 or profile.max() < 0.5:
            continue  # a gap in the line (a digit across it, a cut edge): no sample
        peaks = np.flatnonzero(profile >= profile.max() - 0.05)
        xs.append(x)
        offsets.append(lo + peaks.mean() - expected)
    if len(xs) < _SAMPLES // 2:
        return None
    xs_a, off_a = np.array(xs), np.array(offsets)
    coeffs = np.polyfit(xs_a, off_a, 2)
    residual = np.abs(np.polyval(coeffs, xs_a) - off_a)
    keep = residual <= max(1.5, 2.5 * np.median(residual))
    if keep.sum() >= _SAMPLES // 2:
        coeffs = np.polyfit(xs_a[keep], off_a[keep], 2)
    fitted = np.polyval(coeffs, np.arange(size, dtype=np.float64))
    return np.clip(fitted, -reach, reach)


def _line_offsets(response: np.ndarray, cell_px: int) -> np.ndarray:
    """(10, size) offsets of the ten lines of one direction; lines not found stay flat.

    The outer two stay where the grid's corners put them: they lie on the warped image's
    edge, where the search window is cut in half and other print is often close.
    """
    size = response.shape[1]
    offsets = np.zeros((10, size), np.float64)
    for k in range(1, 9):
        fitted = _fit_line(response, k, cell_px)
        if fitted is not None:
            offsets[k] = fitted
    return offsets


def straighten(gray: np.ndarray) -> np.ndarray:
    """Resample a warped gray grid so that its lines fall on exact ninths.

    Args:
        gray: uint8 (9 * c, 9 * c) warped grid, with c pixels per cell.

    Returns:
        The straightened grid, same shape; the input itself when the lines are too weak to
        follow or the page is flat already.
    """
    size = gray.shape[0]
    cell_px = size // 9
    horizontal, vertical = _line_response(gray, cell_px)
    dy = _line_offsets(horizontal, cell_px)  # rows: line k, columns: x
    dx = _line_offsets(vertical.T, cell_px)  # rows: line k, columns: y
    if max(np.abs(dy).max(), np.abs(dx).max()) < 1.0:
        return gray  # flat to within a pixel: nothing to gain
    # Between two lines, the offset is interpolated linearly along the cross direction.
    pos = np.arange(size, dtype=np.float64)
    seg = np.minimum((pos // cell_px).astype(int), 8)
    frac = ((pos - seg * cell_px) / cell_px)[:, None]
    # map_y[y, x]: dy of the lines above and below output row y, at column x.
    map_y = pos[:, None] + dy[seg] * (1 - frac) + dy[seg + 1] * frac
    # map_x[y, x]: dx of the lines left and right of output column x, at row y.
    map_x = pos[None, :] + (dx[seg] * (1 - frac) + dx[seg + 1] * frac).T
    return cv2.remap(
        gray,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
