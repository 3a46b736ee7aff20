"""Finding a grid's four borders again near a predicted outline, on the gray frame.

Used wherever an outline is known roughly and must be placed to a pixel: the verifier of a
followed grid (`verify.OutlineVerifier`, from optical flow's prediction) and the grid
search, which places each outline it reports and its second look's candidates this way
(`grid.GridFinder`: at its working resolution a title printed against the top border
merges into it and pulls a corner of the contour away by a third of a cell). The frame
around the outline is warped to a square once; each border is found again as the dark line
nearest its predicted place, in short stretches along it, and a line is fitted through
them; the refined outline is the four lines' crossings. The finding and fitting are one
Numba-compiled call (`_fit_borders`), NumPy's arithmetic to the bit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numba
import numpy as np

from .geometry import quad_side
from .preprocess import gray_percentiles, pairwise_sum

_STRETCHES = 18  # stretches along each border where its line is looked for
_LEAST_STRETCHES = 12  # stretches that must find the line for a border to count
_NEAR_PX = 1.5  # pixels from a border's line within which a stretch's position lies on it
_MAX_CELL_PX = 32  # pixels per cell in the warped patch, at most (at least 12)
_NARROW_PX = 2  # pixels beside a border looked at for paper where the page is trimmed close


@dataclass(frozen=True)
class BorderFit:
    """Borders found again around an outline.

    Attributes:
        patch: the gray frame warped so that the predicted outline is the square
            [cell, cell + 9 cell] with one cell around it.
        to_image: homography from the patch to the frame.
        refined: float32 (4, 2), the found outline in the patch (top-left, top-right,
            bottom-right, bottom-left).
        corners: float32 (4, 2), the found outline in the frame, in the same order.
        moved: how far the furthest corner moved, in cells.
    """

    patch: np.ndarray
    to_image: np.ndarray
    refined: np.ndarray
    corners: np.ndarray
    moved: float


def find_borders(gray: np.ndarray, corners: np.ndarray) -> BorderFit | None:
    """The four borders found again near `corners` (float32 (4, 2), clockwise from the
    top-left), or None when one of them shows no line. Each is looked for within half a
    cell of its predicted place."""
    corners = np.asarray(corners, np.float32)
    side = quad_side(corners)
    cell = int(np.clip(round(side / 9), 12, _MAX_CELL_PX))
    grid_px = 9 * cell
    # The patch: the grid and one cell around it, the grid at [cell, cell + grid_px].
    square = _square(cell, grid_px)
    to_image = cv2.getPerspectiveTransform(square, corners)
    patch_px = grid_px + 2 * cell
    patch = cv2.warpPerspective(
        gray,
        to_image,
        (patch_px + 1, patch_px + 1),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    lines = _border_lines(patch, cell, grid_px)
    if lines is None:
        return None
    refined = _crossings(lines)
    if refined is None:
        return None
    found = cv2.perspectiveTransform(refined.reshape(-1, 1, 2), to_image).reshape(4, 2)
    moved = float(np.abs(refined - square).max()) / cell
    return BorderFit(patch, to_image, refined, found.astype(np.float32), moved)


def _square(cell: int, grid_px: int) -> np.ndarray:
    low, high = float(cell), float(cell + grid_px)
    return np.array([[low, low], [high, low], [high, high], [low, high]], np.float32)


def _border_lines(patch: np.ndarray, cell: int, grid_px: int) -> list[np.ndarray] | None:
    """The four borders (top, right, bottom, left) as lines a x + b y = c, or None.

    Each border is looked for across a band of half a cell either side of its predicted
    place, in `_STRETCHES` stretches along it: in each, the position that is darkest
    against the paper on both sides (a line, not the edge of a dark desk) to sub-pixel
    precision. A line is fitted through them, stray stretches (a digit, a smudge) dropped
    (`_fit_borders`, one compiled call: the verifier runs it on every followed frame, and
    as NumPy on these few hundred numbers it was some sixty calls, 0.7 ms of a frame).
    """
    edges, along = _stretches(cell, grid_px)
    dark, bright = gray_percentiles(patch[::3, ::3], (5, 95))
    contrast = float(bright - dark)
    least_response = max(6.0, 0.15 * contrast)
    fitted = np.empty((4, 2))
    if not _fit_borders(patch, cell, grid_px, edges, along, least_response, fitted):
        return None
    lines = []
    for border, (slope, offset) in enumerate(fitted.tolist()):
        # across = slope * along + offset, written as a x + b y = c in the patch.
        if border in (0, 2):  # top, bottom: y = slope x + offset
            lines.append(np.array([-slope, 1.0, offset]))
        else:  # right, left: x = slope y + offset
            lines.append(np.array([1.0, -slope, offset]))
    return lines


@functools.cache
def _stretches(cell: int, grid_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The stretches along a border, between the corners and clear of them (the crossing
    borders): their `_STRETCHES + 1` edges in the patch, and their middles."""
    low, high = cell, cell + grid_px
    edges = np.linspace(low + cell / 4, high - cell / 4, _STRETCHES + 1).round().astype(np.int64)
    along = (edges[:-1] + edges[1:] - 1) / 2.0
    return edges, along


@numba.njit(cache=True, nogil=True)
def _fit_borders(patch, cell, grid_px, edges, along, least_response, fitted):  # noqa: ANN001
    """Fill `fitted` (4, 2) with each border's line across = slope * along + offset; False
    when a border shows no line.

    Across each border (top, right, bottom, left), in each stretch: the mean of the patch
    along the stretch at each row of the band (whole sums: exact), then how much darker
    each row is than the paper `half_width` pixels to either side (the lighter side's excess
    over it is not counted: the darker side's); a page trimmed close to its grid leaves only
    a few pixels of paper between the border and the desk, so the paper is also looked for
    `_NARROW_PX` away (a step from desk to paper never responds, at either width: its
    middle is never darker than both its sides). The best row, to sub-pixel precision (a
    parabola through it and its neighbours), where it responds by `least_response`.
    """
    reach = cell // 2
    half_width = max(2, cell // 5)  # the paper either side of a line is looked for this far
    rows = 2 * (reach + half_width) + 1
    count = len(along)
    at = (cell, cell + grid_px, cell + grid_px, cell)
    profile = np.empty(rows)
    response = np.empty(rows - 2 * half_width)
    across = np.empty((4, count))
    good = np.zeros((4, count), np.bool_)
    for border in range(4):
        base = at[border] - reach - half_width
        for s in range(count):
            for r in range(rows):
                total = 0
                for k in range(edges[s], edges[s + 1]):
                    if border == 0 or border == 2:
                        total += patch[base + r, k]
                    else:
                        total += patch[k, base + r]
                profile[r] = total / (edges[s + 1] - edges[s])
            for i in range(rows - 2 * half_width):
                response[i] = min(profile[i], profile[i + 2 * half_width]) - profile[i + half_width]
                if half_width > _NARROW_PX:
                    j = i + half_width - _NARROW_PX
                    narrow = min(profile[j], profile[j + 2 * _NARROW_PX]) - profile[j + _NARROW_PX]
                    response[i] = max(response[i], narrow)
            best = 0
            for i in range(1, len(response)):
                if response[i] > response[best]:
                    best = i
            peak = response[best]
            good[border, s] = peak >= least_response
            shift = 0.0
            if 0 < best < len(response) - 1:
                left, right = response[best - 1], response[best + 1]
                curve = left - 2 * peak + right
                if curve < 0:
                    shift = 0.5 * (left - right) / curve
            across[border, s] = (at[border] - reach + best) + shift
    return _fit_lines(along, across, good, fitted)


@numba.njit(cache=True, nogil=True)
def _fit_lines(along, across, keep, fitted):  # noqa: ANN001
    """Fill `fitted` with a line per row of `across` (border, stretch) through its `keep`
    points; False when a row's line does not pass through `_LEAST_STRETCHES` of them.

    The line through the two points that most others lie near (within `_NEAR_PX`) picks
    the points of each border (a border faded along a few cells, where the stretches find
    digits and noise instead, must not tilt it); a least-squares line through those is
    refitted without the points more than a pixel off. Sums in NumPy's order
    (`preprocess.pairwise_sum`), so that the fitted lines are NumPy's to the bit.
    """
    count = len(along)
    chosen = np.zeros(count, np.bool_)
    best_chosen = np.zeros(count, np.bool_)
    terms = np.empty(count)
    residual = np.empty(count)
    for row in range(len(across)):
        y, ok = across[row], keep[row]
        most = -1
        for first in range(count):
            for second in range(first + 1, count):
                slope = (y[second] - y[first]) / (along[second] - along[first])
                offset = y[first] - slope * along[first]
                near = 0
                for s in range(count):
                    chosen[s] = ok[s] and abs(y[s] - (slope * along[s] + offset)) <= _NEAR_PX
                    near += chosen[s]
                if not (ok[first] and ok[second]):
                    near = 0
                if near > most:
                    most = near
                    best_chosen[:] = chosen
        chosen[:] = best_chosen
        slope = offset = 0.0
        for _ in range(2):
            n = chosen.sum()
            if n < _LEAST_STRETCHES:
                return False
            for s in range(count):
                terms[s] = along[s] if chosen[s] else 0.0
            x_mean = pairwise_sum(terms) / n
            for s in range(count):
                terms[s] = y[s] if chosen[s] else 0.0
            y_mean = pairwise_sum(terms) / n
            for s in range(count):
                terms[s] = (along[s] - x_mean) * (y[s] - y_mean) if chosen[s] else 0.0
            products = pairwise_sum(terms)
            for s in range(count):
                terms[s] = (along[s] - x_mean) ** 2 if chosen[s] else 0.0
            slope = products / max(pairwise_sum(terms), 1e-9)
            offset = y_mean - slope * x_mean
            for s in range(count):
                residual[s] = abs(y[s] - (slope * along[s] + offset))
            # The median residual of the chosen points.
            ranked = np.sort(residual[chosen])
            spread = (ranked[(n - 1) // 2] + ranked[n // 2]) / 2
            limit = max(1.0, 2.5 * spread)
            for s in range(count):
                chosen[s] = chosen[s] and residual[s] <= limit
        if chosen.sum() < _LEAST_STRETCHES:
            return False
        fitted[row, 0], fitted[row, 1] = slope, offset
    return True


def _crossings(lines: list[np.ndarray]) -> np.ndarray | None:
    """The corners top-left, top-right, bottom-right, bottom-left where the borders cross."""
    top, right, bottom, left = lines
    corners = []
    for a, b in ((left, top), (top, right), (right, bottom), (bottom, left)):
        m = np.array([a[:2], b[:2]])
        if abs(np.linalg.det(m)) < 1e-6:
            return None
        corners.append(np.linalg.solve(m, np.array([a[2], b[2]])))
    return np.array(corners, np.float32)
