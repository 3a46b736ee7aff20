"""Checking a followed grid on a new frame: its four borders refined, one structure score.

The full grid search (`GridFinder.detect_all`) is a detector: it looks everywhere, at many
candidate outlines. Once a grid is followed, where it lies is known to a few pixels (optical
flow), and a verifier is enough: the four borders are found again near the predicted outline
(`borders.find_borders`: one warp of the frame around it, a line fitted through each
border's position in short stretches along it), and the refined outline is accepted only
when the inside still looks like a Sudoku (`structure_score`). Its cost is that of one small warp, whatever the frame's size.

A grid running out of the frame, blurred beyond recognition or covered is not verified:
the caller then runs the full search.
"""

from __future__ import annotations

import cv2
import numpy as np

from .borders import find_borders
from .grid import _refine_corners, at_edge, homography_for, patch_score
from .types import GridDetection

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
        fit = find_borders(gray, corners)
        if fit is None or fit.moved > _MAX_MOVE_CELLS:
            return None
        # Faint thin lines (dim, blurred footage) count as the search's second look does.
        score = patch_score(fit.patch, fit.refined, self.min_score, self.min_line_score)
        if score is None:
            return None
        found = _refine_corners(gray, fit.corners)
        return GridDetection(
            corners=found,
            homography=homography_for(found, self.warp_size),
            warp_size=self.warp_size,
            score=score,
        )


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
