"""Finding the Sudoku grid in an image: candidate outlines, scoring, corners, the warp."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .preprocess import binarize, ink_gray, resize_max_side
from .types import GridDetection

_PROBE_CELL = 12  # pixels per cell when a candidate's inner structure is probed


@dataclass(frozen=True)
class GridFinderSettings:
    """Knobs of the grid finder.

    Attributes:
        work_max_side: longer side of the image the search runs on (corners are scaled back).
        min_area_frac: smallest grid outline, as a fraction of the working image.
        min_score: smallest structure score accepted as a Sudoku grid (0..1).
        warp_cell_px: pixels per cell in the warped grid handed to cell extraction.
    """

    work_max_side: int = 800
    min_area_frac: float = 0.02
    min_score: float = 0.12
    warp_cell_px: int = 40

    def __post_init__(self) -> None:
        if self.work_max_side < 160:
            raise ValueError(f"work_max_side must be >= 160, got {self.work_max_side}")
        if not 0 < self.min_area_frac < 1:
            raise ValueError(f"min_area_frac must be in (0, 1), got {self.min_area_frac}")
        if not 0 <= self.min_score <= 1:
            raise ValueError(f"min_score must be in [0, 1], got {self.min_score}")
        if not 16 <= self.warp_cell_px <= 128:
            raise ValueError(f"warp_cell_px must be in [16, 128], got {self.warp_cell_px}")


def order_corners(points: np.ndarray) -> np.ndarray:
    """Order four points clockwise starting from the one nearest the image's top-left."""
    pts = np.asarray(points, dtype=np.float32).reshape(4, 2)
    center = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - center[1], pts[:, 0] - center[0])
    pts = pts[np.argsort(angles)]  # clockwise in image coordinates (y down)
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    return np.roll(pts, -start, axis=0)


def homography_for(corners: np.ndarray, size: int) -> np.ndarray:
    """Homography mapping the square [0, size]^2 of the warped grid onto `corners`."""
    square = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=np.float32)
    return cv2.getPerspectiveTransform(square, np.asarray(corners, dtype=np.float32))


def warp_grid(image: np.ndarray, detection: GridDetection) -> np.ndarray:
    """Warp the grid of `image` to a square of `detection.warp_size` pixels."""
    size = detection.warp_size
    return cv2.warpPerspective(
        image,
        detection.homography,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _quad_shape_ok(quad: np.ndarray, min_area: float) -> bool:
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = cv2.contourArea(quad.astype(np.float32))
    if area < min_area:
        return False
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    if sides.min() < 0.35 * sides.max():
        return False
    return True


def _candidate_quads(binary: np.ndarray, min_area: float) -> list[np.ndarray]:
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    quads: list[np.ndarray] = []
    for contour in contours:
        if cv2.contourArea(contour) < min_area:
            continue
        hull = cv2.convexHull(contour)
        perimeter = cv2.arcLength(hull, True)
        for eps in (0.02, 0.04):
            approx = cv2.approxPolyDP(hull, eps * perimeter, True)
            if len(approx) == 4:
                quads.append(order_corners(approx.reshape(4, 2)))
                break
        # The extreme points of the hull: robust to rounded or cut-off corners.
        pts = hull.reshape(-1, 2).astype(np.float32)
        s, d = pts.sum(axis=1), pts[:, 0] - pts[:, 1]
        extreme = np.array(
            [pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)], pts[np.argmin(d)]]
        )
        quads.append(order_corners(extreme))
    return [q for q in quads if _quad_shape_ok(q, min_area)]


def structure_score(binary: np.ndarray, corners: np.ndarray) -> float:
    """How much the inside of `corners` looks like a 9x9 grid, from 0 to 1.

    The binarised image is warped to a small square; a Sudoku shows ink along all ten
    horizontal and ten vertical lines at multiples of one ninth, and little in between.
    """
    size = 9 * _PROBE_CELL
    h = homography_for(corners, size)
    probe = cv2.warpPerspective(
        binary, h, (size + 1, size + 1), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    probe = (probe > 0).astype(np.float32)
    scores = []
    for axis in (0, 1):
        profile = probe.mean(axis=axis)
        line_vals = []
        for k in range(1, 9):  # inner lines: the outer ones also match a plain rectangle
            c = k * _PROBE_CELL
            line_vals.append(profile[max(0, c - 2) : c + 3].max())
        lines = np.array(line_vals)
        between = np.array(
            [profile[k * _PROBE_CELL + 3 : (k + 1) * _PROBE_CELL - 2].mean() for k in range(9)]
        )
        # A weak line counts for little: use a low quantile so most lines must be present.
        scores.append(float(np.quantile(lines, 0.25) - np.median(between)))
    return float(np.clip(min(scores), 0.0, 1.0))


class GridFinder:
    """Finds the most plausible Sudoku grid outline in an image.

    Example:
        >>> finder = GridFinder()
        >>> detection = finder.detect(image)  # GridDetection or None
    """

    def __init__(self, settings: GridFinderSettings | None = None) -> None:
        self.settings = settings or GridFinderSettings()

    def detect(self, image: np.ndarray) -> GridDetection | None:
        """Return the best grid in a BGR or gray image, or None when there is none."""
        detections = self.detect_all(image, max_grids=1)
        return detections[0] if detections else None

    def detect_all(self, image: np.ndarray, max_grids: int = 4) -> list[GridDetection]:
        """Return up to `max_grids` non-overlapping grids, best first."""
        gray = ink_gray(image)
        small, scale = resize_max_side(gray, self.settings.work_max_side)
        binary = binarize(small)
        min_area = self.settings.min_area_frac * small.shape[0] * small.shape[1]
        # Outlines are searched in a few renderings of the ink: as thresholded, with small
        # gaps closed (broken printed lines) and thickened (faint, dashed lines), and with a
        # stricter threshold (noisy, dark photos). Each candidate is scored on the same image.
        kernel = np.ones((3, 3), np.uint8)
        renderings = [
            cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel),
            cv2.dilate(binary, kernel),
            cv2.morphologyEx(binarize(small, offset=15.0), cv2.MORPH_CLOSE, kernel),
        ]
        scored: list[tuple[float, np.ndarray, float]] = []
        for rendering in renderings:
            for quad in _candidate_quads(rendering, min_area):
                score = structure_score(binary, quad)
                if score >= self.settings.min_score:
                    scored.append((score, quad, cv2.contourArea(quad)))
        # Prefer well structured outlines; among near-equal ones, the larger (the outer
        # border rather than an inner box edge).
        scored.sort(key=lambda t: (round(t[0] / 0.05), t[2]), reverse=True)
        chosen: list[tuple[float, np.ndarray]] = []
        for score, quad, _ in scored:
            if any(_overlaps(quad, other) for _, other in chosen):
                continue
            chosen.append((score, quad))
            if len(chosen) >= max_grids:
                break
        size = 9 * self.settings.warp_cell_px
        results = []
        for score, quad in chosen:
            corners = _refine_corners(gray, quad / scale)
            results.append(
                GridDetection(
                    corners=corners,
                    homography=homography_for(corners, size),
                    warp_size=size,
                    score=score,
                )
            )
        return results


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    smaller = min(cv2.contourArea(a), cv2.contourArea(b))
    return inter > 0.2 * smaller


def _refine_corners(gray: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Move each corner onto the outer border's corner to sub-pixel precision."""
    corners = corners.astype(np.float32).copy()
    side = float(np.linalg.norm(corners[0] - corners[2])) / np.sqrt(2)
    win = int(max(2, min(8, side / 90)))
    h, w = gray.shape
    inside = (corners[:, 0] > win + 1) & (corners[:, 0] < w - win - 2)
    inside &= (corners[:, 1] > win + 1) & (corners[:, 1] < h - win - 2)
    if inside.any():
        pts = corners[inside].reshape(-1, 1, 2).copy()
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 20, 0.05)
        refined = cv2.cornerSubPix(gray, pts, (win, win), (-1, -1), criteria).reshape(-1, 2)
        moved = np.linalg.norm(refined - corners[inside], axis=1)
        keep = moved <= win  # a corner that jumps far found another feature: keep the old one
        sub = corners[inside]
        sub[keep] = refined[keep]
        corners[inside] = sub
    return corners
