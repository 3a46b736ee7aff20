"""Cutting the warped grid into 81 cells and isolating each cell's digit for the model.

The model sees every digit the same way, whatever the photo: a 28x28 float image in 0..1,
ink bright on black, the digit scaled to fit a 20x20 box and centred (as MNIST is). Cells
with no digit-like ink become all zeros. Training data goes through these same functions.
"""

from __future__ import annotations

import cv2
import numpy as np

from .grid import warp_grid
from .preprocess import (
    gray_percentiles,
    ink_gray,
    levels_percentile,
    straight_runs,
    threshold_cells,
)
from .types import GridDetection

MODEL_SIDE = 28  # side of one model input
_DIGIT_BOX = 20  # the digit's longer side inside the model input
# Small handwriting in a corner of the cell is still a digit: a hand-filled "1" can be a
# 2-pixel stroke a fifth of the cell high.
MIN_INK_FRAC = 0.008
MIN_HEIGHT_FRAC = 0.18
INK_FLOOR = 0.15  # ink is at least this share of the grid's ink contrast darker than its paper
SHADE_MARGIN = 0.1  # a cell this share of the ink contrast darker than the paper is shaded
# Ink whose darkest pixel is under this share of the grid's contrast is shown faint.
FAINT_PEAK = 0.35


def warped_gray(image: np.ndarray, detection: GridDetection) -> np.ndarray:
    """The grid of `image`, warped to a square, as an ink-preserving gray image.

    Parts of the grid beyond the photo's edge are filled with the paper's level.
    """
    gray = ink_gray(image)
    (paper,) = gray_percentiles(gray[::4, ::4], (90,))
    return warp_grid(gray, detection, fill=float(paper))


def ink_map(gray: np.ndarray, cell_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary ink mask and ink strength (0..1) of a warped grid.

    Ink is judged against the local paper level (a blurred bright envelope), so uneven
    light and shadows across the page do not turn paper into ink.
    """
    k = max(3, cell_px // 2) | 1
    paper = cv2.dilate(gray, np.ones((k, k), np.uint8))
    paper = cv2.GaussianBlur(paper, (k, k), 0).astype(np.float32)
    darkness = np.maximum(paper - gray.astype(np.float32), 0)
    # `darkness` holds whole levels (both images are uint8): their histogram gives the
    # percentile numpy would, without sorting the grid's pixels.
    (contrast,) = gray_percentiles(darkness, (99.5,))
    contrast = contrast + 1e-3
    binary = threshold_cells(gray, cell_px)
    _level_shaded_cells(gray, cell_px, paper, contrast, darkness, binary)
    strength = np.clip(darkness / contrast, 0, 1)
    # Faint, thin pen strokes are weak next to printed black: keep anything clearly darker
    # than the paper and let the model call specks and show-through empty.
    binary[strength < INK_FLOOR] = 0
    # Grid lines: long straight runs, far longer than any digit stroke. Removing them
    # before cells are cut keeps their remnants from looking like ink in a cell. The
    # horizontal lines are the vertical ones of the transposed grid.
    v_lines, v_bent, v_thin = _vertical_line_ink(binary, cell_px)
    h_lines, h_bent, h_thin = (
        np.ascontiguousarray(a.T)
        for a in _vertical_line_ink(np.ascontiguousarray(binary.T), cell_px)
    )
    square = np.ones((3, 3), np.uint8)
    lines: np.ndarray = cv2.dilate(h_lines | v_lines, square)
    # Bent lines take only thin ink with them (a blurred digit beside one keeps its edge).
    lines |= cv2.dilate(h_bent | v_bent, square) & (h_thin | v_thin)
    binary[lines > 0] = 0
    return binary, strength


def _vertical_line_ink(
    binary: np.ndarray, cell_px: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vertical grid lines of a warped grid's ink: (lines, bent lines, thin ink).

    Runs of most of a cell count as lines only where the grid's lines should be (near
    every cell_px of the warped grid): elsewhere such a run is as likely a blurred digit
    merged with the line below it, which must not lose a stripe down its middle. Away from
    there, only runs of more than a cell are lines (a misplaced outline's lines).
    """
    run = int(cell_px * 0.85)
    lines = straight_runs(binary, (run, 1))
    # A faint, thin line breaks into dashes when thresholded, and its pieces would stay in
    # the cells as strokes: runs are also measured with short gaps bridged, among thin
    # ink only (a blurred digit is thick and must not be joined up with specks into one).
    gap, thick = max(2, cell_px // 8), max(3, cell_px // 4)
    thin = binary & ~straight_runs(binary, (1, thick))
    lines |= straight_runs(_bridged(thin, (gap, 1)), (run, 1))
    # A curved page bends its lines: a thin line a pixel or two off straight over a cell
    # is still a line. Its straight pieces (dashes, not specks), widened across the line,
    # find it.
    dashes = straight_runs(thin, (max(3, cell_px // 10), 1))
    dashes = cv2.dilate(dashes, np.ones((1, 3), np.uint8))
    bent = straight_runs(_bridged(dashes, (gap, 1)), (run, 1))
    off_lines = ~_near_lines(binary.shape[1], cell_px)
    lines[:, off_lines] = 0
    bent[:, off_lines] = 0
    lines |= straight_runs(binary, (int(cell_px * 1.5), 1))
    return lines, bent, thin


def _level_shaded_cells(
    gray: np.ndarray,
    cell_px: int,
    paper: np.ndarray,
    contrast: float | np.floating,
    darkness: np.ndarray,
    binary: np.ndarray,
) -> None:
    """Judge the ink of shaded cells against their own shading (`darkness`, `binary` in place).

    A shaded cell (a tinted 3x3 box, a highlighter stroke) is paper too, yet the bright
    envelope reaches into it from the white around it and makes all or part of it ink. A
    cell whose own bright level lies clearly (by `SHADE_MARGIN` of the ink contrast) below
    the envelope over a quarter of it or more is shaded: its paper is its own bright
    level (the 90th percentile of its pixels), and its strokes are thresholded against
    their neighbourhood with the paper levelled out. Shading is often a fine texture (a
    screen, hatching, the grain under a highlighter) as dark as a faint pen stroke but far
    thinner: a light blur first takes it out and leaves the strokes.
    """
    # Levels sampled on every other pixel (every fourth of the smooth envelope): as good,
    # at a fraction of the cost, on every frame.
    envelope = _per_cell_percentile(paper, cell_px, 75, step=4)
    own_paper = _per_cell_percentile(gray, cell_px, 90, step=2)
    shaded_cells = own_paper + SHADE_MARGIN * contrast < envelope
    if not shaded_cells.any():
        return
    # Worked out on the shaded cells' bounding box and one cell around it (more than the
    # blur and the threshold's neighbourhood reach), not the whole grid.
    rows, cols = np.nonzero(shaded_cells)
    r0, c0 = max(rows.min() - 1, 0), max(cols.min() - 1, 0)
    r1, c1 = min(rows.max() + 2, shaded_cells.shape[0]), min(cols.max() + 2, shaded_cells.shape[1])
    region = (slice(r0 * cell_px, r1 * cell_px), slice(c0 * cell_px, c1 * cell_px))
    soft = cv2.GaussianBlur(gray[region], (5, 5), 1.2)
    levels = _per_cell_percentile(soft, cell_px, 90)
    soft_paper = levels.repeat(cell_px, axis=0).repeat(cell_px, axis=1).astype(np.float32)
    soft_dark = np.maximum(soft_paper - soft.astype(np.float32), 0)
    flat = (255.0 - soft_dark).astype(np.uint8)  # soft_paper <= 255: in range
    levelled = threshold_cells(flat, cell_px)
    for r, c in zip(rows, cols, strict=True):
        local = (
            slice((r - r0) * cell_px, (r - r0 + 1) * cell_px),
            slice((c - c0) * cell_px, (c - c0 + 1) * cell_px),
        )
        cell = (slice(r * cell_px, (r + 1) * cell_px), slice(c * cell_px, (c + 1) * cell_px))
        darkness[cell] = soft_dark[local]
        binary[cell] = levelled[local]


def _per_cell_percentile(image: np.ndarray, cell_px: int, q: float, step: int = 1) -> np.ndarray:
    """(rows, cols) of cells: the `q` percentile of each cell's pixels (of every `step`-th
    row and column); the image holds whole levels 0..255."""
    nr, nc = image.shape[0] // cell_px, image.shape[1] // cell_px
    cells = image[: nr * cell_px, : nc * cell_px].reshape(nr, cell_px, nc, cell_px)
    cells = cells[:, ::step, :, ::step]
    return levels_percentile(cells.transpose(0, 2, 1, 3).reshape(nr * nc, -1), q).reshape(nr, nc)


def _bridged(binary: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`binary` with gaps shorter than `shape` (rows, columns) along it closed."""
    return cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones(shape, np.uint8))


def _near_lines(size: int, cell_px: int, reach: float = 0.3) -> np.ndarray:
    """bool (size,): positions within `reach` of a cell from a grid line (k * cell_px)."""
    offset = np.arange(size) % cell_px
    return np.minimum(offset, cell_px - offset) <= reach * cell_px


def isolate_digit(
    binary: np.ndarray,
    strength: np.ndarray,
    min_ink_frac: float = MIN_INK_FRAC,
    min_height_frac: float = MIN_HEIGHT_FRAC,
) -> tuple[np.ndarray, bool]:
    """Isolate the digit in one cell and render it as a model input (`isolate_digits` of
    one cell).

    Args:
        binary: uint8 (s, s) ink mask of the cell, grid lines included.
        strength: float32 (s, s) ink strength of the cell, 0..1.
        min_ink_frac: the smallest share of the cell the digit's ink must cover.
        min_height_frac: the smallest digit height, as a share of the cell's side.

    Returns:
        The (28, 28) float32 model input and whether the cell holds digit-like ink.
    """
    inputs, has_ink = isolate_digits(binary, strength, 1, 1, min_ink_frac, min_height_frac)
    return inputs[0], bool(has_ink[0])


def isolate_digits(
    binary: np.ndarray,
    strength: np.ndarray,
    rows: int = 9,
    cols: int = 9,
    min_ink_frac: float = MIN_INK_FRAC,
    min_height_frac: float = MIN_HEIGHT_FRAC,
) -> tuple[np.ndarray, np.ndarray]:
    """Isolate the digit in each cell of a warped grid and render it as a model input.

    Every cell's ink is split into its connected components (one labelling for the whole
    grid: the cells are laid out with a blank line between them, so no component crosses
    a cell's border), the components that are grid-line remnants or specks are dropped
    (each test below is on one component, in its cell's coordinates), and what is left in
    a cell is its digit, if it covers enough of the cell and stands tall enough.

    Args:
        binary: uint8 (rows * s, cols * s) ink mask of the cells, grid lines included.
        strength: float32, the same shape: ink strength, 0..1.
        rows, cols: the cells, each s x s pixels.
        min_ink_frac: the smallest share of the cell the digit's ink must cover.
        min_height_frac: the smallest digit height, as a share of the cell's side.

    Returns:
        float32 (rows * cols, 28, 28) model inputs and bool (rows * cols,) whether each
        cell holds digit-like ink, cells row by row.
    """
    s = binary.shape[0] // rows
    n = rows * cols
    out = np.zeros((n, MODEL_SIDE, MODEL_SIDE), np.float32)
    has_ink = np.zeros(n, bool)
    p = s + 1  # a cell and the blank line after it
    canvas = np.zeros((rows, p, cols, p), np.uint8)
    canvas[:, :s, :, :s] = binary[: rows * s, : cols * s].reshape(rows, s, cols, s)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(
        canvas.reshape(rows * p, cols * p), connectivity=8
    )
    if count <= 1:
        return out, has_ink
    stats = stats[1:].astype(np.int64)
    row, col = stats[:, 1] // p, stats[:, 0] // p
    x, y = stats[:, 0] - col * p, stats[:, 1] - row * p  # in the cell
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    # OpenCV's centroids are whole sums of coordinates over the area: the sums moved into
    # the cell give the centroids labelling the cell alone would (to the last bit).
    cx = (np.rint(centroids[1:, 0] * area) - col * p * area) / area
    cy = (np.rint(centroids[1:, 1] * area) - row * p * area) / area
    lo, hi = 0.22 * s, 0.78 * s  # the central region a digit must reach into
    # Ink of each component inside the middle half of the cell: a digit, even one cut a
    # little off its centre, always enters it; grid lines that run along two of the cell's
    # borders and join at a corner (an "L" in a corner of the cell: thin inner lines that a
    # cut a few pixels off takes in) reach for the middle with their box but never enter
    # it. (A small fragment of a broken digit may lie outside it too: the test is only for
    # ink that touches the cell's edge or spans half the cell.)
    m0, m1 = s // 4, s - s // 4
    cells_of_labels = labels.reshape(rows, p, cols, p)[:, m0:m1, :, m0:m1]
    middle = np.bincount(cells_of_labels.ravel(), minlength=count)[1:]
    touches = (x == 0) | (y == 0) | (x + w == s) | (y + h == s)
    longest = np.maximum(w, h)
    drop = (
        (area < 0.004 * s * s)
        # Grid-line remnants: long and thin along the cell's border.
        | ((w > 0.7 * s) & (h < 0.2 * s))
        | ((h > 0.85 * s) & (w < 0.2 * s))
        # Specks away from the centre.
        | ((h < 0.2 * s) & (w < 0.2 * s) & ~((lo < cx) & (cx < hi) & (lo < cy) & (cy < hi)))
        # Remnants of the lines where they cross, or of a thick border line: small ink
        # touching the cell's edge, its mass within a fifth of the cell from an edge. A
        # digit that touches the edge (large, or merged with a line) is taller and has its
        # mass further in.
        | (touches & (longest < 0.45 * s) & (np.minimum.reduce([cx, s - cx, cy, s - cy]) < 0.2 * s))
        # A grid line's remnant along the cell's border (where lines cross, or a bent outer
        # line the removal missed): narrow across the border it touches, its mass hugging
        # it. A digit, even one merged with the line, has its mass further in.
        | _hugs_border(x, w, cx, s)
        | _hugs_border(y, h, cy, s)
        # Ink that never reaches the central region.
        | (x + w < lo)
        | (x > hi)
        | (y + h < lo)
        | (y > hi)
        | ((middle == 0) & (touches | (longest >= 0.5 * s)))
    )
    keep = ~drop
    cell = (row * cols + col)[keep]
    # The kept components are disjoint: a cell's ink is the sum of their areas, its digit's
    # extent the union of their boxes (read off the stats, not the pixels).
    ink = np.bincount(cell, weights=area[keep], minlength=n)
    x0, y0 = np.full(n, s), np.full(n, s)
    x1, y1 = np.zeros(n, np.int64), np.zeros(n, np.int64)
    np.minimum.at(x0, cell, x[keep])
    np.minimum.at(y0, cell, y[keep])
    np.maximum.at(x1, cell, (x + w)[keep])
    np.maximum.at(y1, cell, (y + h)[keep])
    # Enough ink, and not a dot or a dash.
    digits = (ink >= min_ink_frac * s * s) & (y1 - y0 >= min_height_frac * s)
    if not digits.any():
        return out, has_ink
    chosen = np.zeros(count, np.uint8)
    chosen[1:][keep] = digits[cell]
    # Grown by a pixel (into the blank lines, never into the next cell).
    grown = cv2.dilate(chosen[labels], np.ones((3, 3), np.uint8))
    grown = grown.reshape(rows, p, cols, p)[:, :s, :, :s]
    for i in np.flatnonzero(digits):
        r, c = divmod(int(i), cols)
        top, bottom, left, right = int(y0[i]), int(y1[i]), int(x0[i]), int(x1[i])
        box = strength[r * s + top : r * s + bottom, c * s + left : c * s + right]
        digit = box * (grown[r, top:bottom, c, left:right] > 0)
        peak = digit.max()
        if peak <= 0:
            continue
        has_ink[i] = True
        # Scaled to full brightness, unless the cell's darkest ink is faint next to the
        # grid's ink (print showing through from the back of the page): that faintness is
        # kept.
        out[i] = _rendered(digit / max(peak, FAINT_PEAK))
    return out, has_ink


def _rendered(digit: np.ndarray) -> np.ndarray:
    """A model input: `digit` (strength 0..1, cut to its box) scaled to fit the digit box
    and centred."""
    out = np.zeros((MODEL_SIDE, MODEL_SIDE), np.float32)
    h, w = digit.shape
    scale = _DIGIT_BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    digit = cv2.resize(digit, (nw, nh), interpolation=cv2.INTER_AREA)
    top, left = (MODEL_SIDE - nh) // 2, (MODEL_SIDE - nw) // 2
    out[top : top + nh, left : left + nw] = digit
    return out


def _hugs_border(start: np.ndarray, extent: np.ndarray, centre: np.ndarray, s: int) -> np.ndarray:
    """Whether ink spanning [start, start + extent) with its mass at `centre`, along one
    axis of a cell of side `s`, touches one border, is narrow across it and hugs it (per
    component)."""
    at_start = (start == 0) & (centre < 0.12 * s)
    at_end = (start + extent == s) & (s - centre < 0.12 * s)
    return (extent < 0.35 * s) & (at_start | at_end)


def cell_inputs_from_warped(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for the 81 cells of a warped gray grid.

    Returns:
        float32 (81, 1, 28, 28) inputs and bool (81,) whether each cell holds ink.
    """
    inputs, has_ink, _ = cells_with_faint_ink(gray)
    return inputs, has_ink


FAINT_INK = 0.3  # darkness (of the grid's ink contrast) in the middle of a cell that may be a digit


def cells_with_faint_ink(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`cell_inputs_from_warped`, and bool (81,) which cells without digit-like ink are
    still dark in their middle half (the 95th percentile of the ink strength at least
    `FAINT_INK`).

    Such a cell cannot be told empty: a faint or blurred digit the ink test did not take
    (measured on footage at true corners: 73% of the no-ink frames of givens, 3.7% of
    those of empty cells).
    """
    cell_px = gray.shape[0] // 9
    binary, strength = ink_map(gray, cell_px)
    inputs, has_ink = isolate_digits(binary, strength)
    m0, m1 = cell_px // 4, cell_px - cell_px // 4
    side = 9 * cell_px
    middles = strength[:side, :side].reshape(9, cell_px, 9, cell_px)[:, m0:m1, :, m0:m1]
    middles = middles.transpose(0, 2, 1, 3).reshape(81, -1)
    dark = np.percentile(middles, 95, axis=1) >= FAINT_INK
    return inputs[:, None], has_ink, dark & ~has_ink


def cell_inputs(image: np.ndarray, detection: GridDetection) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for the 81 cells of the grid `detection` found in `image`."""
    return cell_inputs_from_warped(warped_gray(image, detection))
