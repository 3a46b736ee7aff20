"""Finding a grid's four borders again near a predicted outline, on the gray frame.

Used wherever an outline is known roughly and must be placed to a pixel: the verifier of a
followed grid (`verify.OutlineVerifier`, from optical flow's prediction) and the grid
search, which places each outline it reports and its second look's candidates this way
(`grid.GridFinder`: at its working resolution a title printed against the top border
merges into it and pulls a corner of the contour away by a third of a cell). The frame
around the outline is warped to a square once; each border is found again as the dark line
nearest its predicted place, in short stretches along it, and a line is fitted through
them; the refined outline is the four lines' crossings.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import quad_side
from .preprocess import gray_percentiles

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
    precision. A line is fitted through them, stray stretches (a digit, a smudge) dropped.
    The four borders are measured together, as one array (border, band row, stretch).
    """
    reach = cell // 2
    half_width = max(2, cell // 5)  # the paper either side of a line is looked for this far
    low, high = cell, cell + grid_px
    # Stretches between the corners, clear of the corners themselves (the crossing borders).
    edges = np.linspace(low + cell / 4, high - cell / 4, _STRETCHES + 1).round().astype(int)
    dark, bright = gray_percentiles(patch[::3, ::3], (5, 95))
    contrast = float(bright - dark)
    least_response = max(6.0, 0.15 * contrast)
    img = patch.astype(np.float32)
    at = np.array([low, high, high, low])  # top, right, bottom, left
    bands = np.stack(
        [
            (img if border in (0, 2) else img.T)[  # rows across the border
                at[border] - reach - half_width : at[border] + reach + half_width + 1,
                edges[0] : edges[-1],
            ]
            for border in range(4)
        ]
    )
    # The mean of each stretch: (border, band row, stretch).
    profiles = np.add.reduceat(bands, edges[:-1] - edges[0], axis=2) / np.diff(edges)
    response = _line_response(profiles, half_width)
    if half_width > _NARROW_PX:
        # A page trimmed close to its grid leaves only a few pixels of paper between the
        # border and the desk: the paper beside the line is also looked for that near (a
        # step from desk to paper never responds, at either width: its middle is never
        # darker than both its sides).
        narrow = _line_response(profiles, _NARROW_PX)
        cut = half_width - _NARROW_PX
        response = np.maximum(response, narrow[:, cut : narrow.shape[1] - cut])
    best = response.argmax(axis=1)  # (border, stretch)
    peak = np.take_along_axis(response, best[:, None], axis=1)[:, 0]
    good = peak >= least_response
    # Sub-pixel: a parabola through the peak and its neighbours.
    inner = (best > 0) & (best < response.shape[1] - 1)
    b = np.clip(best, 1, response.shape[1] - 2)
    left = np.take_along_axis(response, b[:, None] - 1, axis=1)[:, 0]
    right = np.take_along_axis(response, b[:, None] + 1, axis=1)[:, 0]
    curve = left - 2 * peak + right
    shift = np.where(inner & (curve < 0), 0.5 * (left - right) / np.where(curve < 0, curve, -1), 0)
    across = (at - reach)[:, None] + best + shift
    along = (edges[:-1] + edges[1:] - 1) / 2.0
    fitted = _fit_lines(along, across, good)
    if fitted is None:
        return None
    lines = []
    for border, (slope, offset) in enumerate(fitted):
        # across = slope * along + offset, written as a x + b y = c in the patch.
        if border in (0, 2):  # top, bottom: y = slope x + offset
            lines.append(np.array([-slope, 1.0, offset]))
        else:  # right, left: x = slope y + offset
            lines.append(np.array([1.0, -slope, offset]))
    return lines


def _line_response(profiles: np.ndarray, half_width: int) -> np.ndarray:
    """How much darker each position of the profiles (border, band row, stretch) is than
    the paper `half_width` pixels to either side of it (the lighter side's excess over it
    is not counted: the darker side's), for the positions `half_width` from each end."""
    return (
        np.minimum(profiles[:, : -2 * half_width], profiles[:, 2 * half_width :])
        - profiles[:, half_width:-half_width]
    )


def _fit_lines(
    along: np.ndarray, across: np.ndarray, keep: np.ndarray
) -> list[tuple[float, float]] | None:
    """A line per row of `across` (border, stretch) through its `keep` points, or None when
    a row's line does not pass through `_LEAST_STRETCHES` of them.

    The line through the two points that most others lie near (within `_NEAR_PX`) picks
    the points of each border (a border faded along a few cells, where the stretches find
    digits and noise instead, must not tilt it); a least-squares line through those is
    refitted without the points more than a pixel off.
    """
    x = np.broadcast_to(along, across.shape)
    first, second = np.triu_indices(across.shape[1], 1)
    run = x[:, second] - x[:, first]  # (border, pair)
    slopes = (across[:, second] - across[:, first]) / run
    offsets = across[:, first] - slopes * x[:, first]
    # (border, pair, stretch): the points near each pair's line.
    near = np.abs(across[:, None, :] - (slopes[..., None] * along + offsets[..., None]))
    near = (near <= _NEAR_PX) & keep[:, None, :]
    counts = near.sum(axis=2) * (keep[:, first] & keep[:, second])
    keep = near[np.arange(len(across)), counts.argmax(axis=1)]
    for _ in range(2):
        count = keep.sum(axis=1)
        if (count < _LEAST_STRETCHES).any():
            return None
        x_mean = np.where(keep, x, 0).sum(axis=1) / count
        y_mean = np.where(keep, across, 0).sum(axis=1) / count
        dx = np.where(keep, x - x_mean[:, None], 0)
        dy = np.where(keep, across - y_mean[:, None], 0)
        slope = (dx * dy).sum(axis=1) / np.maximum((dx**2).sum(axis=1), 1e-9)
        offset = y_mean - slope * x_mean
        residual = np.abs(across - (slope[:, None] * along + offset[:, None]))
        spread = _row_medians(residual, keep, count)
        keep = keep & (residual <= np.maximum(1.0, 2.5 * spread)[:, None])
    if (keep.sum(axis=1) < _LEAST_STRETCHES).any():
        return None
    return [(float(a), float(b)) for a, b in zip(slope, offset, strict=True)]


def _row_medians(values: np.ndarray, keep: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The median of each row of `values` over its `keep` entries (`count` of them, at least
    one): `np.median` of each, for all rows in one sort."""
    ranked = np.sort(np.where(keep, values, np.inf), axis=1)
    rows = np.arange(len(values))
    return (ranked[rows, (count - 1) // 2] + ranked[rows, count // 2]) / 2


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
