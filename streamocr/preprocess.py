"""Image preprocessing: ink-preserving grayscale, working resolution, binarisation.

The one step OpenCV has no single call for is turning a colour photo into an "ink" image in
which black, blue and red pen are all dark: the per-pixel minimum over the three channels.
OpenCV needs three passes for it (split, min, min); the Numba kernel does one fused pass and
is faster (see `bench/bench_kernels.py`). Everything else stays with OpenCV, which beats a
hand-written kernel for blur, adaptive threshold and morphology. `pairwise_sum` lets the
compiled arithmetic elsewhere (the border fit, the structure score) add as NumPy does.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np


@numba.njit(cache=True, nogil=True, parallel=False, fastmath=True)
def _min_channel(bgr: np.ndarray, out: np.ndarray) -> None:
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            b = bgr[y, x, 0]
            g = bgr[y, x, 1]
            r = bgr[y, x, 2]
            m = b if b < g else g
            out[y, x] = m if m < r else r


def ink_gray(image: np.ndarray) -> np.ndarray:
    """Return a uint8 grayscale image in which coloured ink is as dark as black ink.

    Args:
        image: BGR uint8 (H, W, 3), or already gray (H, W).
    """
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"image must be uint8 (H, W, 3) or (H, W), got {image.dtype} {image.shape}"
        )
    bgr = np.ascontiguousarray(image)
    out = np.empty(bgr.shape[:2], dtype=np.uint8)
    _min_channel(bgr, out)
    return out


def ink_gray_opencv(image: np.ndarray) -> np.ndarray:
    """OpenCV reference for `ink_gray` (used by the tests and the benchmark)."""
    b, g, r = cv2.split(image)
    return cv2.min(cv2.min(b, g), r)


def resize_max_side(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink `image` so its longer side is at most `max_side`; return it and the scale used."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / float(max(h, w)))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


@numba.njit(cache=True, nogil=True)
def pairwise_sum(values):  # noqa: ANN001
    """`values.sum()` of 1 to 128 float32 or float64 numbers, in NumPy's order and type
    (its pairwise summation: below eight values one running sum, else eight running sums
    added in pairs, the rest after), so that compiled code gives NumPy's results to the
    bit; with n values, `pairwise_sum(v) / v.dtype.type(n)` is `v.mean()` likewise."""
    n = len(values)
    if n < 8:
        total = values[0] - values[0]  # zero, of the values' type
        for i in range(n):
            total += values[i]
        return total
    r = values[:8].copy()
    i = 8
    while i < n - n % 8:
        for j in range(8):
            r[j] += values[i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += values[i]
        i += 1
    return total


def levels_percentile(levels: np.ndarray, q: float) -> np.ndarray:
    """The `q` percentile of each row of `levels` (whole numbers 0..255, uint8 or float),
    as `np.percentile(levels, q, axis=1)` gives it (its linear method, dtype and rounding),
    read off each row's histogram instead of partially sorting it."""
    groups, n = levels.shape
    # Each row's levels binned apart (small integers: far quicker to convert than to intp).
    kind: type[np.integer] = np.uint16 if groups <= 256 else np.int64
    offsets: np.ndarray = 256 * np.arange(groups, dtype=kind)
    bins = levels.astype(kind) + offsets[:, None]
    below = np.bincount(bins.ravel(), minlength=256 * groups).reshape(groups, 256).cumsum(axis=1)
    return _percentile_of_histograms(below, n, q, levels.dtype)


def gray_percentiles(image: np.ndarray, qs: tuple[float, ...]) -> list[np.floating]:
    """`np.percentile(image, qs)` of an image of whole levels 0..255 (uint8, or float32
    holding whole numbers), exactly (as `levels_percentile`), from one histogram: the same
    values, as NumPy scalars (arithmetic with them then keeps NumPy's types)."""
    counts = cv2.calcHist([np.ascontiguousarray(image)], [0], None, [256], [0, 256])
    below = counts.reshape(1, 256).astype(np.int64).cumsum(axis=1)
    return [_percentile_of_histograms(below, image.size, q, image.dtype)[0] for q in qs]


def _percentile_of_histograms(below: np.ndarray, n: int, q: float, dtype: np.dtype) -> np.ndarray:
    """NumPy's linear percentile `q` of rows of `n` levels each, from their cumulative
    histograms `below` (rows, 256), in the levels' `dtype`'s arithmetic."""
    virtual = (n - 1) * (q / 100)
    rank = int(np.floor(virtual))
    gamma = float(virtual - rank)
    # The values at sorted positions `rank` and the next: how many levels have at most
    # that many values at or below them.
    a = (below <= rank).sum(axis=1).astype(dtype)
    b = (below <= min(rank + 1, n - 1)).sum(axis=1).astype(dtype)
    # numpy's `_lerp`, with a weak Python float for the weight.
    diff = b - a
    out = np.add(a, diff * gamma)
    if gamma >= 0.5:
        out = np.subtract(b, diff * (1 - gamma), out=out, casting="unsafe", dtype=out.dtype)
    return out


def stretch_contrast(gray: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0) -> np.ndarray:
    """Stretch a gray image so its `low_pct`..`high_pct` percentiles span 0..255.

    A dim or foggy frame then thresholds like a well-exposed one: the fixed offsets of the
    adaptive threshold are relative to the image's own range.
    """
    sample = gray[::4, ::4]
    low, high = gray_percentiles(sample, (low_pct, high_pct))
    if high - low < 8:  # a flat image: nothing to stretch
        return gray
    scale = 255.0 / (high - low)
    lut = np.clip((np.arange(256, dtype=np.float32) - low) * scale, 0, 255).astype(np.uint8)
    return cv2.LUT(gray, lut)


def binarize(gray: np.ndarray, block_frac: float = 1 / 30, offset: float = 7.0) -> np.ndarray:
    """Blur and adaptively threshold a gray image; ink becomes 255, paper 0.

    Args:
        gray: uint8 (H, W).
        block_frac: neighbourhood size as a fraction of the shorter side.
        offset: how much darker than its neighbourhood a pixel must be to count as ink.
    """
    block = int(min(gray.shape) * block_frac) | 1
    block = max(block, 11)
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    return cv2.adaptiveThreshold(
        blurred, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, offset
    )


def threshold_cells(gray: np.ndarray, cell_px: int) -> np.ndarray:
    """Ink (255) darker than its neighbourhood in a warped grid of `cell_px` cells.

    The neighbourhood is about one and a half cells, so a cell's strokes are judged against
    the paper around them, lines included. Beyond the grid's edge the neighbourhood is the
    grid mirrored: OpenCV's own border repeats the outermost pixels, which are the thick
    outer line, and a faint digit in an edge or corner cell was then judged against a
    neighbourhood darkened by a band of line and lost its strokes.
    """
    block = ((cell_px | 1) + 2 * (cell_px // 4)) | 1
    pad = block // 2
    padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    ink = cv2.adaptiveThreshold(
        padded, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 6
    )
    return ink[pad:-pad, pad:-pad]


def straight_runs(binary: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The ink of `binary` lying in straight runs at least `shape` (rows, columns) long."""
    return cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones(shape, np.uint8))
