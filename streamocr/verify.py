"""Checking a followed grid on a new frame: its four borders refined, one structure score.

The full grid search (`GridFinder.detect_all`) is a detector: it looks everywhere, at many
candidate outlines. Once a grid is followed, where it lies is known to a few pixels (optical
flow), and a verifier is enough: the frame around the predicted outline is warped to a
square once, each of the four borders is found again as the dark line nearest its predicted
place (a line fitted through its position in short stretches along it), the refined outline
is the four lines' crossings, and it is accepted only when the inside still looks like a
Sudoku (`structure_score`). Its cost is that of one small warp, whatever the frame's size.

A grid running out of the frame, blurred beyond recognition or covered is not verified:
the caller then runs the full search.
"""

from __future__ import annotations

import cv2
import numpy as np

from .grid import _refine_corners, at_edge, homography_for, line_score, structure_score
from .preprocess import binarize
from .types import GridDetection

_STRETCHES = 18  # stretches along each border where its line is looked for
_LEAST_STRETCHES = 12  # stretches that must find the line for a border to count
_MAX_CELL_PX = 32  # pixels per cell in the warped patch, at most (at least 12)
_MAX_MOVE_CELLS = 0.35  # a border found further than this from the prediction: not verified
_SIGNATURE_PX = 108  # side of the small warp of a grid that `page_signature` compares
# Mean absolute difference of two normalised signatures below which the page is unchanged.
# Frames of one page, hand-held with blur and noise, differ by up to 0.16 (480x360 clips,
# dim and photographed pages included), a still page by about 0.01; a different puzzle
# under the same outline by 0.23 (a clean synthetic page) to 0.39 or more (clips). Erring
# low only reads more often.
SAME_PAGE = 0.18


class OutlineVerifier:
    """Refines and checks a predicted grid outline on one frame.

    Args:
        warp_size: side of the warped grid of the detections it returns.
        min_score: least structure score of a verified outline (the grid search's own).
        min_line_score: an outline below `min_score` is still verified when its lines,
            measured on the gray patch (`grid.line_score`), reach this (the search's own);
            0: never.

    Example:
        >>> verifier = OutlineVerifier(warp_size=360)
        >>> detection = verifier.verify(gray, predicted_corners)  # GridDetection or None
    """

    def __init__(
        self, warp_size: int = 360, min_score: float = 0.12, min_line_score: float = 0.0
    ) -> None:
        if not 0 <= min_score <= 1:
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        if not 0 <= min_line_score <= 1:
            raise ValueError(f"min_line_score must be in [0, 1], got {min_line_score}")
        self.warp_size = warp_size
        self.min_score = min_score
        self.min_line_score = min_line_score

    def verify(self, gray: np.ndarray, corners: np.ndarray) -> GridDetection | None:
        """The grid refined near `corners` in a gray frame, or None when it does not check out.

        Args:
            gray: uint8 (H, W), the frame's ink-preserving gray (`preprocess.ink_gray`).
            corners: float32 (4, 2), the predicted outline, clockwise; the result keeps
                this corner order.
        """
        corners = np.asarray(corners, np.float32)
        if corners.shape != (4, 2):
            raise ValueError(f"corners must have shape (4, 2), got {corners.shape}")
        if gray.ndim != 2:
            raise ValueError(f"gray must be (H, W), got shape {gray.shape}")
        height, width = gray.shape
        if at_edge(corners, width, height):
            return None  # a border at or beyond the frame's edge cannot be found again
        side = float(np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1).mean())
        cell = int(np.clip(round(side / 9), 12, _MAX_CELL_PX))
        grid_px = 9 * cell
        # The patch: the grid and one cell around it, the grid at [cell, cell + grid_px].
        to_image = cv2.getPerspectiveTransform(_square(cell, grid_px), corners)
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
        if np.abs(refined - _square(cell, grid_px)).max() > _MAX_MOVE_CELLS * cell:
            return None
        score = structure_score(binarize(patch), refined)
        if score < self.min_score:
            # Faint thin lines (dim, blurred footage): the search's second look.
            if not self.min_line_score or line_score(patch, refined) < self.min_line_score:
                return None
            score = self.min_score
        found = cv2.perspectiveTransform(refined.reshape(-1, 1, 2), to_image).reshape(4, 2)
        found = _refine_corners(gray, found.astype(np.float32))
        return GridDetection(
            corners=found,
            homography=homography_for(found, self.warp_size),
            warp_size=self.warp_size,
            score=score,
        )


def _square(cell: int, grid_px: int) -> np.ndarray:
    low, high = float(cell), float(cell + grid_px)
    return np.array([[low, low], [high, low], [high, high], [low, high]], np.float32)


def _border_lines(patch: np.ndarray, cell: int, grid_px: int) -> list[np.ndarray] | None:
    """The four borders (top, right, bottom, left) as lines a x + b y = c, or None.

    Each border is looked for across a band of half a cell either side of its predicted
    place, in `_STRETCHES` stretches along it: in each, the position that is darkest
    against the paper on both sides (a line, not the edge of a dark desk) to sub-pixel
    precision. A line is fitted through them, stray stretches (a digit, a smudge) dropped.
    """
    reach = cell // 2
    half_width = max(2, cell // 5)  # the paper either side of a line is looked for this far
    low, high = cell, cell + grid_px
    # Stretches between the corners, clear of the corners themselves (the crossing borders).
    edges = np.linspace(low + cell / 4, high - cell / 4, _STRETCHES + 1).round().astype(int)
    dark, bright = np.percentile(patch[::3, ::3], (5, 95))
    contrast = float(bright - dark)
    least_response = max(6.0, 0.15 * contrast)
    img = patch.astype(np.float32)
    lines = []
    for border, at in (("top", low), ("right", high), ("bottom", high), ("left", low)):
        view = img if border in ("top", "bottom") else img.T  # rows across the border
        band = view[at - reach - half_width : at + reach + half_width + 1]
        # The mean of each stretch: (band rows, stretches).
        sums = np.add.reduceat(band[:, edges[0] : edges[-1]], edges[:-1] - edges[0], axis=1)
        profiles = sums / np.diff(edges)[None, :]
        response = (
            np.minimum(profiles[: -2 * half_width], profiles[2 * half_width :])
            - profiles[half_width:-half_width]
        )
        best = response.argmax(axis=0)
        peak = response[best, np.arange(_STRETCHES)]
        good = peak >= least_response
        # Sub-pixel: a parabola through the peak and its neighbours.
        inner = (best > 0) & (best < len(response) - 1)
        b = np.clip(best, 1, len(response) - 2)
        left = response[b - 1, np.arange(_STRETCHES)]
        right = response[b + 1, np.arange(_STRETCHES)]
        curve = left - 2 * peak + right
        shift = np.where(
            inner & (curve < 0), 0.5 * (left - right) / np.where(curve < 0, curve, -1), 0
        )
        across = at - reach + best + shift
        along = (edges[:-1] + edges[1:] - 1) / 2.0
        line = _fit_line(along[good], across[good])
        if line is None:
            return None
        slope, offset = line
        # across = slope * along + offset, written as a x + b y = c in the patch.
        if border in ("top", "bottom"):  # y = slope x + offset
            lines.append(np.array([-slope, 1.0, offset]))
        else:  # x = slope y + offset
            lines.append(np.array([1.0, -slope, offset]))
    return lines


def _fit_line(along: np.ndarray, across: np.ndarray) -> tuple[float, float] | None:
    """Least-squares line through the points, refitted without those more than a pixel off."""
    keep = np.ones(len(along), bool)
    for _ in range(2):
        if keep.sum() < _LEAST_STRETCHES:
            return None
        x, y = along[keep], across[keep]
        x_mean, y_mean = x.mean(), y.mean()
        slope = float(((x - x_mean) * (y - y_mean)).sum() / max(((x - x_mean) ** 2).sum(), 1e-9))
        offset = float(y_mean - slope * x_mean)
        residual = np.abs(across - (slope * along + offset))
        keep = residual <= max(1.0, 2.5 * float(np.median(residual[keep])))
    if keep.sum() < _LEAST_STRETCHES:
        return None
    return slope, offset


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


def page_signature(gray: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """A small, brightness-normalised warp of the grid at `corners`: compared between frames
    (`same_page`), it tells whether what the grid shows has changed (a page swapped, a hand
    over it, digits written in)."""
    h = homography_for(np.asarray(corners, np.float32), _SIGNATURE_PX)
    warped = cv2.warpPerspective(
        gray,
        h,
        (_SIGNATURE_PX, _SIGNATURE_PX),
        flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    ).astype(np.float32)
    warped -= warped.mean()
    warped /= warped.std() + 1e-6
    return warped


def same_page(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two `page_signature`s show the same page, unchanged."""
    return float(np.abs(a - b).mean()) < SAME_PAGE
