"""The small geometry of a grid's four corners: side lengths and area.

Plain Python on the eight numbers: NumPy's calls cost microseconds each on arrays this
small, and the tracker and the verifier make dozens of them a frame.
"""

from __future__ import annotations

import math

import numpy as np


def _points(corners: np.ndarray) -> list[list[float]]:
    return np.asarray(corners, np.float64).reshape(-1, 2).tolist()


def quad_sides(corners: np.ndarray) -> list[float]:
    """The side lengths of a quadrilateral: corner 0 to 1, 1 to 2, 2 to 3 and 3 to 0."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = _points(corners)
    return [
        math.hypot(bx - ax, by - ay),
        math.hypot(cx - bx, cy - by),
        math.hypot(dx - cx, dy - cy),
        math.hypot(ax - dx, ay - dy),
    ]


def quad_side(corners: np.ndarray) -> float:
    """Mean side length of a quadrilateral in pixels."""
    return sum(quad_sides(corners)) / 4


def polygon_area(corners: np.ndarray) -> float:
    """Area of a simple polygon (the shoelace formula), in pixels."""
    xy = _points(corners)
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(xy, xy[1:] + xy[:1], strict=True))
    return 0.5 * abs(twice)
