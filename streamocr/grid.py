"""Finding the Sudoku grid in an image: candidate outlines, scoring, corners, the warp."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import cv2
import numba
import numpy as np

from .borders import find_borders
from .config import GridFinderSettings
from .geometry import quad_side, quad_sides
from .preprocess import (
    binarize,
    gray_percentiles,
    ink_gray,
    pairwise_sum,
    resize_max_side,
    stretch_contrast,
)
from .types import GridDetection

_PROBE_CELL = 12  # pixels per cell when a candidate's inner structure is probed
_BORDER_FULL = 0.5  # a border inked along this share of its length or more counts in full
_LATTICE_CELLS = 27  # cells a lattice is fitted to and must fit, a third of the grid at least


def order_corners(points: np.ndarray) -> np.ndarray:
    """Order four points clockwise starting from the one nearest the image's top-left."""
    pts = np.asarray(points, dtype=np.float32).reshape(4, 2)
    xy = pts.tolist()
    cx, cy = sum(x for x, _ in xy) / 4, sum(y for _, y in xy) / 4
    # Clockwise in image coordinates (y down).
    order = sorted(range(4), key=lambda i: math.atan2(xy[i][1] - cy, xy[i][0] - cx))
    start = min(range(4), key=lambda k: xy[order[k]][0] + xy[order[k]][1])
    return pts[order[start:] + order[:start]]


def homography_for(corners: np.ndarray, size: int) -> np.ndarray:
    """Homography mapping the square [0, size]^2 of the warped grid onto `corners`."""
    square = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=np.float32)
    return cv2.getPerspectiveTransform(square, np.asarray(corners, dtype=np.float32))


def warp_grid(image: np.ndarray, detection: GridDetection, fill: float | None = None) -> np.ndarray:
    """Warp the grid of `image` to a square of `detection.warp_size` pixels.

    Args:
        fill: the value of parts of the grid outside the photo (a grid cut by the photo's
            edge). None repeats the edge pixels, which draws streaks: cell extraction
            passes the paper's level instead, so no streak looks like ink or a grid line.
    """
    size = detection.warp_size
    border = cv2.BORDER_REPLICATE if fill is None else cv2.BORDER_CONSTANT
    return cv2.warpPerspective(
        image,
        detection.homography,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=border,
        borderValue=0 if fill is None else fill,
    )


def _quad_shape_ok(quad: np.ndarray, min_area: float) -> bool:
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = cv2.contourArea(quad.astype(np.float32))
    if area < min_area:
        return False
    sides = quad_sides(quad)
    return min(sides) >= 0.35 * max(sides)


def _hull_quads(points: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Quadrilaterals fitted to a point set's hull, and the one extrapolated along its sides.

    Returns:
        The quads fitted to the hull (polygon approximation, extreme points) and, when the
        hull has a cut-off corner, the quad along its four longest sides (`_longest_sides_quad`).
    """
    hull = cv2.convexHull(points.reshape(-1, 1, 2).astype(np.float32))
    quads = []
    perimeter = cv2.arcLength(hull, True)
    for eps in (0.02, 0.04):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            quads.append(order_corners(approx.reshape(4, 2)))
            break
    # The extreme points of the hull: robust to rounded or cut-off corners.
    pts = hull.reshape(-1, 2)
    s, d = pts.sum(axis=1), pts[:, 0] - pts[:, 1]
    extreme = np.array([pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)], pts[np.argmin(d)]])
    quads.append(order_corners(extreme))
    polygon = cv2.approxPolyDP(hull, 0.01 * perimeter, True).reshape(-1, 2)
    sides = _longest_sides_quad(polygon)
    return quads, [] if sides is None else [sides]


def _longest_sides_quad(polygon: np.ndarray) -> np.ndarray | None:
    """The quad whose sides run along the four longest edges of a convex polygon.

    A grid whose corner region is missing (a faint border, a corner cell lost to glare)
    has a hull with that corner cut off; its four sides, extended, still meet at the
    grid's true corners.
    """
    n = len(polygon)
    if not 5 <= n <= 8:
        return None
    pts = polygon.astype(np.float64)
    edges = np.roll(pts, -1, axis=0) - pts
    keep = np.sort(np.argsort(-np.linalg.norm(edges, axis=1))[:4])
    corners = []
    for a, b in zip(keep, np.roll(keep, -1), strict=True):
        # Intersect the line through edge a with the line through edge b.
        m = np.column_stack([edges[a], -edges[b]])
        if abs(np.linalg.det(m)) < 1e-6:
            return None
        t = np.linalg.solve(m, pts[b] - pts[a])[0]
        corners.append(pts[a] + t * edges[a])
    return order_corners(np.array(corners, np.float32))


def _candidate_quads(
    binary: np.ndarray, min_area: float
) -> tuple[list[tuple[np.ndarray, bool]], list[np.ndarray]]:
    """Candidate outlines, and the outlines of the cells' fitted lattices.

    Each candidate comes with whether it is extrapolated beyond the ink it fits (the
    sides of a hull extended past a cut-off corner): those find a grid whose corner is
    faint, and lose ties against outlines fitted to ink. The lattices' outlines are
    placed from the cells' centres (`_fitted_lattice_quads`).
    """
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    quads: list[np.ndarray] = []
    extrapolated: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    min_cell = 0.5 * min_area / 81
    max_cell = binary.shape[0] * binary.shape[1] / 60
    for contour in contours:
        area = cv2.contourArea(contour)
        if area >= min_area:
            fitted, extended = _hull_quads(contour)
            quads.extend(fitted)
            extrapolated.extend(extended)
        elif min_cell <= area <= max_cell and _is_cell_like(contour, area):
            cells.append(contour)
    fitted, extended, lattices = _cell_cluster_quads(cells)
    quads.extend(fitted)
    extrapolated.extend(extended)
    candidates = [(q, False) for q in quads if _quad_shape_ok(q, min_area)] + [
        (q, True) for q in extrapolated if _quad_shape_ok(q, min_area)
    ]
    return candidates, [q for q in lattices if _quad_shape_ok(q, min_area)]


def _outlined_by(quad: np.ndarray, others: list[np.ndarray]) -> bool:
    """Whether one of `others` has all four corners within half a cell of `quad`'s."""
    half_cell = np.sqrt(max(cv2.contourArea(quad.astype(np.float32)), 1.0)) / 18
    return any(np.abs(other - quad).max() < half_cell for other in others)


def _is_cell_like(contour: np.ndarray, area: float) -> bool:
    x, y, w, h = cv2.boundingRect(contour)
    return 0.6 < w / h < 1.66 and area > 0.6 * w * h


def _cell_cluster_quads(
    cells: list[np.ndarray],
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Outlines of grids whose outer border is broken, cut off by the photo's edge or run
    into other print.

    The holes of a grid's cells are small closed squares in a lattice. Neighbouring,
    similar-sized squares are grouped; the outline of a group is extended by whole cells
    where fewer than nine fit along a side, and each extension becomes a candidate.
    Where open cells (thin lines broken, a corner run into other print) break a group
    up or cut its hull's corner, a lattice fitted to the cells' centres places the grid
    (`_fitted_lattice_quads`).

    Returns:
        The outlines fitted to the groups' hulls, those along the hulls' longest sides,
        and those placed by fitted lattices.
    """
    if len(cells) < 12:
        return [], [], []
    # The mean of each contour's points, for all contours at once (exact: integer sums).
    lengths = np.array([len(c) for c in cells])
    points = np.concatenate(cells).reshape(-1, 2).astype(np.float64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    centers = (np.add.reduceat(points, starts, axis=0) / lengths[:, None]).astype(np.float32)
    rects = np.array([cv2.boundingRect(c) for c in cells], np.float32)
    sides = np.sqrt([cv2.contourArea(c) for c in cells]).astype(np.float32)
    # Neighbours by the cells' longer side: a grid seen at a slant has oblong cells, and a
    # thick box line between two cells puts their centres further apart.
    longer = rects[:, 2:].max(axis=1)
    reach = np.maximum(longer[:, None], longer[None])
    dist = np.linalg.norm(centers[:, None] - centers[None], axis=2)
    similar = np.abs(np.log(sides[:, None] / sides[None])) < 0.25
    near = (dist < 1.5 * reach) & similar
    quads, extended = [], []
    for members in _cell_groups(near, sides, 12):
        pitch = _pitch(dist, members)
        gap = max(0.0, pitch - float(np.median(sides[members])))
        points = np.concatenate([cells[i].reshape(-1, 2) for i in members]).astype(np.float32)
        # Cells lost at a corner (a faded border) cut the hull's corner off: its four
        # longest sides still run along the grid's (the extrapolated quads).
        fitted, along_sides = _hull_quads(points)
        for quad in fitted:
            quads.extend(_extend_to_nine(quad, pitch, gap))
        for quad in along_sides:
            extended.extend(_extend_to_nine(quad, pitch, gap))
    # The lattice is fitted to cells up to one open cell apart, a third of the grid at least,
    # by the centres of their bounding boxes (the mean of a contour's points leans towards
    # its ragged sides).
    loose = (dist < 2.6 * reach) & similar
    middles = rects[:, :2] + rects[:, 2:] / 2
    lattices = []
    for members in _cell_groups(loose, sides, _LATTICE_CELLS):
        linked = loose[np.ix_(members, members)]
        lattices.extend(_fitted_lattice_quads(middles[members], linked, _pitch(dist, members)))
    return quads, extended, lattices


def _cell_groups(links: np.ndarray, sides: np.ndarray, least: int) -> list[list[int]]:
    """Connected groups of `least` to 81 linked cells, each without the squares of other
    sizes chained in at its edge (boxes, print)."""
    parent = list(range(len(links)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(links, 1)), strict=True):
        parent[find(int(i))] = find(int(j))
    roots = np.array([find(i) for i in range(len(links))])
    groups = []
    for root in np.flatnonzero(np.bincount(roots) >= least):
        members = np.flatnonzero(roots == root)
        typical = np.median(sides[members])
        members = members[np.abs(np.log(sides[members] / typical)) < 0.2]
        if least <= len(members) <= 81:
            groups.append(members.tolist())
    return groups


def _pitch(dist: np.ndarray, members: list[int]) -> float:
    """The typical distance from a cell to its nearest neighbour."""
    d = dist[np.ix_(members, members)] + np.eye(len(members)) * 1e9
    return float(np.median(d.min(axis=1)))


def _fitted_lattice_quads(
    centers: np.ndarray, linked: np.ndarray, pitch: float
) -> list[np.ndarray]:
    """Outlines from a homography fitted to the lattice of the cells' centres.

    Each cell gets whole-number lattice coordinates, walked from neighbour to neighbour
    along the lattice's two directions; a homography from those coordinates to the
    centres (RANSAC) then places every line of the grid, however many cells are open or
    which corner the print around the grid has swallowed. The cells must span all nine
    rows and columns: where fewer do, which are missing is a guess (a grid half out of
    view, its outline shifted by a column, would read as a shifted puzzle).
    """
    offsets = centers[None] - centers[:, None]  # offsets[a, b] = centre b - centre a
    length = np.linalg.norm(offsets, axis=2)
    # The lattice's two directions, from the offsets to nearest neighbours.
    step = np.where(linked & (length < 1.3 * pitch) & (length > 0.5 * pitch))
    if len(step[0]) < 12:
        return []
    angle = np.arctan2(offsets[step][:, 1], offsets[step][:, 0]) % np.pi

    def apart(direction: float) -> np.ndarray:  # angles from a direction, in [0, pi/2]
        return np.abs((angle - direction + np.pi / 2) % np.pi - np.pi / 2)

    bins = np.pi / 18
    first = (np.argmax(np.histogram(angle, bins=18, range=(0, np.pi))[0]) + 0.5) * bins
    across = apart(first) > np.pi / 5
    if not across.any():
        return []
    second = (np.argmax(np.histogram(angle[across], bins=18, range=(0, np.pi))[0]) + 0.5) * bins
    basis = []
    for direction in (first, second):
        vectors = offsets[step][apart(direction) < np.pi / 12]
        unit = np.array([np.cos(direction), np.sin(direction)])
        vectors = vectors * np.sign(vectors @ unit)[:, None]  # one sense along the direction
        basis.append(np.median(vectors, axis=0))
    # The step from each cell to each linked one, in whole cells (one open cell between).
    xy = offsets @ np.linalg.inv(np.column_stack(basis)).T
    whole = np.round(xy)
    steps = linked & (np.abs(xy - whole).max(axis=2) < 0.35)
    steps &= np.isin(np.abs(whole).max(axis=2), (1, 2))
    whole = whole.astype(np.int64)
    # Walk the neighbour graph, giving each cell its lattice coordinates.
    coords: dict[int, np.ndarray] = {int(np.argmax(steps.sum(axis=1))): np.zeros(2, np.int64)}
    queue = list(coords)
    while queue:
        a = queue.pop()
        for b in np.flatnonzero(steps[a]):
            if int(b) not in coords:
                coords[int(b)] = coords[a] + whole[a, b]
                queue.append(int(b))
    if len(coords) < _LATTICE_CELLS:
        return []
    lattice = np.array(list(coords.values()))
    src = (lattice + 0.5).astype(np.float32)
    h, inliers = cv2.findHomography(src, centers[list(coords)], cv2.RANSAC, 0.25 * pitch)
    if h is None or inliers.sum() < _LATTICE_CELLS:
        return []
    kept = lattice[inliers.ravel() > 0]
    low, high = kept.min(axis=0), kept.max(axis=0) + 1
    if np.any(high - low != 9):
        return []
    box = np.float32([low, (high[0], low[1]), high, (low[0], high[1])])
    return [order_corners(cv2.perspectiveTransform(box.reshape(-1, 1, 2), h).reshape(4, 2))]


def _extend_to_nine(quad: np.ndarray, pitch: float, gap: float) -> list[np.ndarray]:
    """Grow a quad of cell holes to the grid lines, then by whole cells up to 9 x 9."""
    center = quad.mean(axis=0)
    grown = center + (quad - center) * (
        1 + gap / max(1.0, np.linalg.norm(quad - center, axis=1).mean() / 1.2)
    )
    tl, tr, br, bl = grown
    across = ((tr - tl) + (br - bl)) / 2
    down = ((bl - tl) + (br - tr)) / 2
    missing_x = 9 - round(float(np.linalg.norm(across)) / pitch)
    missing_y = 9 - round(float(np.linalg.norm(down)) / pitch)
    if not (0 <= missing_x <= 3 and 0 <= missing_y <= 3):
        return [grown.astype(np.float32)]
    ux = across / np.linalg.norm(across) * pitch
    uy = down / np.linalg.norm(down) * pitch
    out = []
    for left in range(missing_x + 1):
        for top in range(missing_y + 1):
            right, bottom = missing_x - left, missing_y - top
            out.append(
                np.array(
                    [
                        tl - left * ux - top * uy,
                        tr + right * ux - top * uy,
                        br + right * ux + bottom * uy,
                        bl - left * ux + bottom * uy,
                    ],
                    np.float32,
                )
            )
    return out


def structure_score(binary: np.ndarray, corners: np.ndarray) -> float:
    """How much the inside of `corners` looks like a 9x9 grid, from 0 to 1.

    The binarised image is warped to a square at about its own resolution (so thin lines
    are not lost between samples); a Sudoku shows ink along all inner horizontal and
    vertical lines at multiples of one ninth, and little in between. Its four borders are
    lines too: an outline shifted by a row of cells fits the inner lines as well as the
    grid's own, but one of its borders runs through the blank margin, and its score is
    scaled down by that border's weakness (`_BORDER_FULL`). Where that border happens to
    lie on other print (a rule, a column of text), the band of cells inside it gives it
    away: the grid's lines do not cross it. The lines' ink across each edge band, as a
    share of theirs across the whole grid, scales the score the same way. A border outside
    the image (a grid cut off by the photo's edge), and the band inside it, are not held
    against it.
    """
    side = float(np.sqrt(max(cv2.contourArea(corners.astype(np.float32)), 1.0)))
    cell = int(np.clip(round(side / 9), _PROBE_CELL, 32))
    size = 9 * cell
    h = homography_for(corners, size)
    probe = cv2.warpPerspective(
        binary, h, (size + 1, size + 1), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    # The lines' ink per direction, each border's ink (left, right, top, bottom) and the
    # lines' ink across the bands inside the top, bottom, left and right borders, as a
    # share of theirs across the whole grid: one compiled pass (`_structure_parts`).
    borders = np.empty(4, np.float32)
    crossed = np.empty(4, np.float32)
    inner = float(_structure_parts(probe, cell, borders, crossed))
    if inner <= 0:
        return 0.0
    # Each border's ink, as a share of the part of it inside the image.
    shown = _borders_in_image(h, size, binary.shape)
    pairs = zip(borders, shown, strict=True)
    weakest = min(1.0 if seen < 0.5 else ink / seen for ink, seen in pairs)
    # The bands next to the top, bottom, left and right borders.
    bands = zip(crossed, shown[[2, 3, 0, 1]], strict=True)
    weakest = min([weakest] + [share for share, seen in bands if seen >= 0.5])
    return float(np.clip(inner * min(1.0, weakest / _BORDER_FULL), 0.0, 1.0))


@numba.njit(cache=True, nogil=True)
def _structure_parts(probe, cell, borders, crossed):  # noqa: ANN001
    """The inner lines' score of a warped binarised grid (`probe`, 9 `cell` + 1 pixels a
    side, ink nonzero), the lesser of the two directions'; fills `borders` (the ink of
    the left, right, top and bottom borders) and `crossed` (the lines' ink across the
    first and last row, then column, of cells, as a share of theirs across the grid).

    Per direction: the share of ink in each column (row) is its profile; each inner line's
    ink is the profile's most inked position within `reach` of its place, the ink between
    lines the mean of each cell's middle. Every number is NumPy's float32 arithmetic of
    the code this replaced (`pairwise_sum` for its means), to the bit.
    """
    size = 9 * cell
    n = size + 1
    reach, margin = max(2, cell // 8), max(2, cell // 4)
    # Ink counts per column and row, and across the edge bands of cells.
    columns = np.zeros(n, np.int32)
    rows = np.zeros(n, np.int32)
    left = np.zeros(n, np.int32)
    right = np.zeros(n, np.int32)
    top = np.zeros(n, np.int32)
    above_bottom = np.zeros(n, np.int32)
    ink = np.empty(n, np.int32)
    for i in range(n):
        for j in range(n):
            ink[j] = probe[i, j] != 0
        for j in range(n):
            columns[j] += ink[j]
        rows[i] = ink.sum()
        left[i] = ink[:cell].sum()
        right[i] = ink[size - cell :].sum()
        if i == cell - 1:
            top[:] = columns
        if i == size - cell - 1:
            above_bottom[:] = columns
    bottom = columns - above_bottom
    lines = np.empty(8, np.float32)
    between = np.empty(9, np.float32)
    middles = np.empty(cell - 2 * margin + 1, np.float32)
    profile = np.empty(n, np.float32)
    inner = np.inf
    for axis in range(2):
        counts = columns if axis == 0 else rows
        for k in range(n):
            profile[k] = np.float32(counts[k]) / np.float32(n)
        _inner_lines(profile, cell, reach, lines)
        for r in range(9):
            for k in range(len(middles)):
                middles[k] = profile[r * cell + margin + k]
            between[r] = pairwise_sum(middles) / np.float32(len(middles))
        # A weak line counts for little: a low quantile, so most lines must be present.
        ranked = np.sort(lines)
        middle = np.sort(between)[4]
        score = np.float32(0.25) * ranked[1] + np.float32(0.75) * ranked[2] - middle
        inner = min(inner, float(score))
        borders[2 * axis] = profile[: reach + 1].max()
        borders[2 * axis + 1] = profile[size - reach :].max()
        # The lines must cross the first and last row (column) of cells too: across a
        # blank band of paper beyond the grid they stop.
        full = np.float32(max(float(pairwise_sum(lines) / np.float32(8)), 1e-6))
        for b in range(2):
            if axis == 0:
                counts, across = (top, cell) if b == 0 else (bottom, cell + 1)
            else:
                counts, across = (left, cell) if b == 0 else (right, cell + 1)
            for k in range(n):
                profile[k] = np.float32(counts[k]) / np.float32(across)
            _inner_lines(profile, cell, reach, lines)
            crossed[2 * axis + b] = pairwise_sum(lines) / np.float32(8) / full
    return inner


@numba.njit(cache=True, nogil=True)
def _inner_lines(profile, cell, reach, out):  # noqa: ANN001
    """`_line_ink` of the inner lines (1-8) of a profile, into `out`."""
    for line in range(8):
        start = (line + 1) * cell - reach
        out[line] = profile[start : start + 2 * reach + 1].max()


def _line_ink(profile: np.ndarray, starts: np.ndarray, reach: int) -> np.ndarray:
    """The ink of each line of a profile: its most inked position within `reach`."""
    return profile[starts[:, None] + np.arange(2 * reach + 1)].max(axis=1)


_BOX_LINES = 0.3  # box lines and borders this dark (of the grid's contrast) in both directions
_LINE_CELL_MAX = 24  # pixels per cell at most when `line_score` warps a candidate
_FLAT_LEVELS = 24  # a frame spanning fewer gray levels (`_flat`) is not searched
_LINE_CANDIDATES = 30  # outlines `line_score` looks at when the binarised search found none
_LINE_PLACES = 8  # ... in this many places at most (the largest)
_SECOND_LOOK_MOVE = 0.8  # cells a corner may move when the second look finds the borders again
_SECOND_LOOK_AGAIN = 0.2  # cells moved beyond which the borders are looked for once more


def line_score(gray: np.ndarray, corners: np.ndarray, least: float = 0.0) -> float:
    """How clearly the lines of a 9x9 grid run inside `corners`, measured on the gray image.

    The second look of the search at outlines whose inside the binarised image does not
    show as a grid: in dim, blurred, noisy footage the thin inner lines fade to a few
    grey levels above the paper, and the threshold loses them among the noise, while
    the outline itself (the thick border) is found. The candidate is warped from the
    full-resolution gray frame; each pixel's darkness against the paper beside it (across
    the lines' direction) is taken, and a line's darkness is its median along its whole
    length (a digit darkens a stretch of it, a line all of it). The score, relative to
    the grid's contrast, is the least of: the second-weakest thin line (1, 2, 4, 5, 7, 8)
    above the darkness between the lines, and a quarter of the weakest of the box lines
    and borders (3, 6, 0, 9) above it, in both directions. An outline shifted by a cell
    puts a border on a thin line or on blank paper and a thin line on a box line's place;
    a table, text or a desk has no such lattice. Where no thin line shows in either
    direction, a lattice whose box lines and borders stand out scores an eighth of its
    weakest box line when digits sit in the middles of its cells (`_digits_in_cells`).
    Only outlines wholly inside the image are measured (0 otherwise). With `least`, an
    outline whose first direction already keeps its score below it returns that
    direction's score without measuring the second.
    """
    corners = np.asarray(corners, np.float32)
    height, width = gray.shape[:2]
    if at_edge(corners, width, height, margin=0.0):
        return 0.0
    side = float(np.sqrt(max(cv2.contourArea(corners), 1.0)))
    cell = int(np.clip(round(side / 9), _PROBE_CELL, _LINE_CELL_MAX))
    size = 9 * cell
    probe = cv2.warpPerspective(
        gray,
        homography_for(corners, size),
        (size + 1, size + 1),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    dark, bright = gray_percentiles(probe[::3, ::3], (2, 90))
    contrast = max(float(bright - dark), 8.0)
    reach, margin = max(2, cell // 8), max(2, cell // 4)
    starts = np.arange(10) * cell - reach
    starts[0], starts[-1] = 0, size - 2 * reach  # the borders, inside the warp
    paper = np.ones((1, cell // 2 | 1), np.uint8)

    def thin_and_strong(view: np.ndarray) -> tuple[float, float]:
        """The second-weakest thin line and the weakest box line or border of one direction
        (the columns of `view`), above the darkness between the lines."""
        darker = cv2.subtract(cv2.dilate(view, paper), view)[::2]
        # Each line's median along it (rows of the transpose: partition is fastest on
        # contiguous float rows).
        along = np.ascontiguousarray(darker.T, dtype=np.float32)
        middle = along.shape[1] // 2
        profile = np.partition(along, middle, axis=1)[:, middle] / contrast
        lines = _line_ink(profile, starts, reach)
        between = profile[: 9 * cell].reshape(9, cell)[:, margin : cell - margin + 1].mean(axis=1)
        floor = float(np.percentile(between, 75))
        thin = float(np.sort(lines[[1, 2, 4, 5, 7, 8]])[1]) - floor
        return thin, float(lines[[0, 3, 6, 9]].min()) - floor

    thin_v, strong_v = thin_and_strong(probe)  # the vertical lines
    # The most the score can reach (see below): a quarter of these box lines, and no more
    # than these thin lines unless the lattice rule may still count the other direction's;
    # an eighth of them when the boxes may hold their digits without thin lines.
    most = strong_v / 4
    if thin_v <= 0 or strong_v < _BOX_LINES:
        most = min(thin_v, most)
    if strong_v >= _BOX_LINES:
        most = max(most, strong_v / 8)
    if most < least:
        return max(0.0, min(thin_v, strong_v / 4))
    thin_h, strong_h = thin_and_strong(probe.T)  # the horizontal ones
    thin, strong = min(thin_v, thin_h), min(strong_v, strong_h)
    score = min(thin, strong / 4)
    # Faint thin lines, blurred across in one direction (motion), may fade to the paper's
    # level there while the box lines and borders stand out in both: such a lattice
    # counts on its clearer direction's thin lines, the other's only above the paper.
    if strong >= _BOX_LINES and thin > 0:
        score = max(score, min(max(thin_v, thin_h), strong / 4))
    # Thin lines lost in both directions (printed faint, then dimmed and blurred): the
    # boxes alone are many things (a window, a table), so the lattice counts, at an eighth
    # of its box lines, only where digits sit inside cells apart from the lost lines.
    if strong >= _BOX_LINES and score < strong / 8:
        if _digits_in_cells(probe, cell, reach, margin, contrast):
            score = strong / 8
    return max(0.0, score)


_DIGIT_INK = 0.3  # a pixel this much darker than the paper beside it (of the contrast) is ink
_DIGIT_CELL = 0.08  # ... a cell whose middle holds this share of ink holds a digit
_DIGIT_CELLS = (17, 60)  # cells holding digits in a puzzle (17 givens at least)
_DIGIT_ON_LINES = 0.25  # the most of the ink (box lines left out) on the thin lines' places


def _digits_in_cells(
    probe: np.ndarray, cell: int, reach: int, margin: int, contrast: float
) -> bool:
    """Whether the ink inside a warped outline's boxes (`probe`, `cell` pixels a cell) lies
    in the middles of cells: some cells hold a digit (`_DIGIT_CELLS`), and little of the
    ink lies where the thin lines would run (`_DIGIT_ON_LINES`). A puzzle's digits are
    centred in their cells; text, a table's entries, symbols drawn across a box or noise
    run across those places, and an empty lattice (a window) holds no digits. `reach` and
    `margin` are `line_score`'s: how far a line may lie from its place, and the part of a
    cell beside its lines."""
    size = 9 * cell
    square = np.ones((cell // 2 | 1,) * 2, np.uint8)
    darker = cv2.subtract(cv2.dilate(probe, square), probe)[:size, :size]
    offset = np.arange(size) % cell
    apart = np.minimum(offset, cell - offset)  # from the nearest line
    line = np.rint(np.arange(size) / cell).astype(int)
    box = (apart <= reach + 1) & (line % 3 == 0)
    thin = (apart <= reach) & (line % 3 != 0)
    middle = (offset >= margin) & (offset <= cell - margin)
    ink = (darker > _DIGIT_INK * contrast) & ~box[:, None] & ~box[None, :]
    total = int(ink.sum())
    if total == 0:
        return False
    on_lines = int((ink & (thin[:, None] | thin[None, :])).sum())
    inside = (ink & middle[:, None] & middle[None, :]).reshape(9, cell, 9, cell).sum(axis=(1, 3))
    digits = int((inside > _DIGIT_CELL * (int(middle.sum()) // 9) ** 2).sum())
    low, high = _DIGIT_CELLS
    return low <= digits <= high and on_lines <= _DIGIT_ON_LINES * total


def at_edge(corners: np.ndarray, width: int, height: int, margin: float = 2.0) -> bool:
    """Whether a corner lies within `margin` pixels of the image's edge or beyond it (where
    `verify.OutlineVerifier` cannot find the border again; with margin 0, whether the
    outline leaves the image)."""
    x, y = corners[:, 0], corners[:, 1]
    return bool(
        (x < margin).any()
        or (y < margin).any()
        or (x > width - 1 - margin).any()
        or (y > height - 1 - margin).any()
    )


@functools.lru_cache(maxsize=64)
def _border_points(size: int) -> np.ndarray:
    """Points along the left, right, top and bottom borders of a square of `size` (read
    only: shared between calls)."""
    along = np.linspace(0, size, 19, dtype=np.float32)
    low, high = np.zeros_like(along), np.full_like(along, size)
    xs = np.concatenate([low, high, along, along])
    ys = np.concatenate([along, along, low, high])
    points = np.stack([xs, ys], axis=1).reshape(-1, 1, 2)
    points.flags.writeable = False
    return points


def _borders_in_image(h: np.ndarray, size: int, shape: tuple) -> np.ndarray:
    """Shares of the left, right, top and bottom borders of the warped square that `h`
    maps inside an image of `shape`."""
    mapped = cv2.perspectiveTransform(_border_points(size), h).reshape(4, -1, 2)
    inside = (mapped[..., 0] >= 0) & (mapped[..., 0] <= shape[1] - 1)
    inside &= (mapped[..., 1] >= 0) & (mapped[..., 1] <= shape[0] - 1)
    return inside.mean(axis=1)


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
        if _flat(small):
            # Cheap tests first: a frame with no contrast (a blank desk or wall, a covered
            # lens) holds no grid, and its stretched noise would make thousands of outlines.
            return []
        small = stretch_contrast(small)
        binary = binarize(small)
        min_area = self.settings.min_area_frac * small.shape[0] * small.shape[1]
        # Outlines are searched in a few renderings of the ink: as thresholded, with small
        # gaps closed (broken printed lines) and thickened (faint, dashed lines), and with a
        # stricter threshold (noisy, dark photos). Each candidate is scored on the same image.
        kernel = np.ones((3, 3), np.uint8)
        renderings: list[Callable[[], np.ndarray]] = [
            lambda: cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel),
            lambda: cv2.dilate(binary, kernel),
            lambda: cv2.morphologyEx(binarize(small, offset=15.0), cv2.MORPH_CLOSE, kernel),
            lambda: _close_along_lines(binary, max(5, max(small.shape) // 60)),
        ]
        candidates: list[tuple[np.ndarray, bool]] = []
        lattices: list[np.ndarray] = []
        scored: list[tuple[float, np.ndarray, float, bool]] = []
        seen: set[bytes] = set()

        def score(found: list[tuple[np.ndarray, bool]]) -> None:
            for quad, extrapolated in found:
                key = _outline_key(quad)
                if key in seen:  # the renderings often agree: score each outline once
                    continue
                seen.add(key)
                value = structure_score(binary, quad)
                if value >= self.settings.min_score:
                    scored.append((value, quad, cv2.contourArea(quad), extrapolated))

        for rendering in renderings:
            found, lattice = _candidate_quads(rendering(), min_area)
            candidates += found
            lattices += lattice
            score(found)
            # A grid whose own outline, fitted to ink, scores as a clear grid in the
            # first rendering is taken without the others: they are for faint, broken
            # and noisy print (most of the search's time on a clear frame).
            clear = self.settings.clear_score
            if clear and any(value >= clear and not ext for value, _, _, ext in scored):
                break
        # A lattice places a grid whose own outline is not among the ink's (run into other
        # print, cut by open cells). Beside that outline it is a worse fit on a curved
        # page, whose border bends away from the cells' homography.
        inked = [quad for quad, extrapolated in candidates if not extrapolated]
        score([(quad, True) for quad in lattices if not _outlined_by(quad, inked)])
        if not scored and self.settings.min_line_score:
            scored = self._faint_lines(gray, candidates, lattices, scale)
        # Prefer well structured outlines; among near-equal ones, the larger (the outer
        # border rather than an inner box edge). An extrapolated outline must score
        # clearly better: on dim, noisy frames one shifted by a row of cells can score
        # about as well as the grid's own.
        scored.sort(key=lambda t: (round(t[0] / 0.05) - 2 * t[3], t[2]), reverse=True)
        chosen: list[tuple[float, np.ndarray]] = []
        for score, quad, _, _ in scored:
            if any(overlap_share(quad, other) > 0.2 for _, other in chosen):
                continue
            chosen.append((score, quad))
            if len(chosen) >= max_grids:
                break
        size = 9 * self.settings.warp_cell_px
        results = []
        for score, quad in chosen:
            # Placed on the full frame: the outline's borders found again (a corner pulled
            # off by print run into the border), then each corner to sub-pixel precision.
            corners = quad / scale
            placed = self._placed(gray, corners)
            corners = _refine_corners(gray, corners if placed is None else placed)
            results.append(
                GridDetection(
                    corners=corners,
                    homography=homography_for(corners, size),
                    warp_size=size,
                    score=score,
                )
            )
        return results

    def _faint_lines(
        self,
        gray: np.ndarray,
        candidates: list[tuple[np.ndarray, bool]],
        lattices: list[np.ndarray],
        scale: float,
    ) -> list[tuple[float, np.ndarray, float, bool]]:
        """The outline among the search's that a second look takes for a grid, if any.

        Looked at when no outline's binarised inside scored as a grid: the largest
        outlines fitted to ink and lattices (`_LINE_CANDIDATES` at most), each measured
        on the full-resolution gray.

        1. As found: the best one whose lines (`line_score`) reach `min_line_score`
           (faint thin lines lost to the threshold).
        2. Failing that, each with its four borders found again on the gray frame
           (`borders.find_borders`, twice, moving no corner more than
           `_SECOND_LOOK_MOVE` cells): the contour of a border that print runs into (a
           title set against it) is pulled a third of a cell away at a corner, and the
           line scores fall to nothing one or two pixels off. The first refined outline
           whose binarised inside scores as a grid (`min_score`).

        The outline is returned with the least passing structure score (it ranks below
        any outline the binarised search accepts).
        """
        quads = [quad for quad, extrapolated in candidates if not extrapolated] + lattices
        quads.sort(key=lambda q: cv2.contourArea(q), reverse=True)
        # The outlines of the largest few places, every variant of each: the renderings
        # find a page's edge many times over (cut by a cable, a corner rounded off), and
        # only one variant of a grid's outline may be the true one (the others run into a
        # title printed against the border).
        seen: set[bytes] = set()
        places: list[np.ndarray] = []
        largest = []
        for quad in quads:
            key = _outline_key(quad)
            if key in seen:
                continue
            seen.add(key)
            if not any(_same_place(quad, place) for place in places):
                if len(places) == _LINE_PLACES:
                    continue
                places.append(quad)
            largest.append(quad)
            if len(largest) == _LINE_CANDIDATES:
                break
        best, best_quad = self.settings.min_line_score, None
        for quad in largest:
            value = line_score(gray, quad / scale, least=best)
            if value >= best:
                best, best_quad = value, quad
        if best_quad is None:
            placed = (self._placed(gray, quad / scale) for quad in largest)
            best_quad = next((corners * scale for corners in placed if corners is not None), None)
        if best_quad is None:
            return []
        return [(self.settings.min_score, best_quad, cv2.contourArea(best_quad), False)]

    def _placed(self, gray: np.ndarray, corners: np.ndarray) -> np.ndarray | None:
        """`corners` with their borders found again on the gray frame (`borders.find_borders`,
        twice when the first moves them far), when the outline there scores as a grid (its
        binarised inside, or its lines on the gray: `line_score`); else None (a border at
        the frame's edge or beyond, or one that shows no line)."""
        height, width = gray.shape[:2]
        if at_edge(corners, width, height):
            return None
        fit = find_borders(gray, corners)
        if fit is None or fit.moved > _SECOND_LOOK_MOVE:
            return None
        if fit.moved > _SECOND_LOOK_AGAIN:  # far from the start: look again from there
            fit = find_borders(gray, fit.corners)
            side = quad_side(corners)
            if fit is None or np.abs(fit.corners - corners).max() > _SECOND_LOOK_MOVE * side / 9:
                return None
        if at_edge(fit.corners, width, height):
            return None
        settings = self.settings
        if patch_score(fit.patch, fit.refined, settings.min_score, settings.min_line_score) is None:
            return None
        return fit.corners


def patch_score(
    patch: np.ndarray, refined: np.ndarray, min_score: float, min_line_score: float
) -> float | None:
    """How an outline whose borders were found again (`borders.find_borders`: the gray
    `patch` around it and the outline `refined` in it) scores as a grid, or None when it
    does not: its binarised inside's structure score when that reaches `min_score`; else
    `min_score` when its lines on the gray patch reach `min_line_score` (faint thin lines
    the threshold loses; 0: not looked at). The search's placement and the verifier of a
    followed grid both judge with it."""
    score = structure_score(binarize(patch), refined)
    if score >= min_score:
        return score
    if min_line_score and line_score(patch, refined, least=min_line_score) >= min_line_score:
        return min_score
    return None


def _flat(gray: np.ndarray) -> bool:
    """Whether a frame's ink gray spans fewer than `_FLAT_LEVELS` levels between its
    0.1th and 99.9th percentiles (sampled): no ink on paper to find.

    Over 17,540 frames of this project's clip sets, every frame with a grid in view
    (unreadable footage included) spanned 33 levels at least; frames of a blank desk span
    3-23."""
    low, high = gray_percentiles(gray[::4, ::4], (0.1, 99.9))
    return float(high - low) < _FLAT_LEVELS


def _same_place(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two outlines cover nearly the same area (their overlap over the larger)."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    inter, _ = cv2.intersectConvexConvex(a, b)
    return inter >= 0.85 * max(cv2.contourArea(a), cv2.contourArea(b))


def _outline_key(quad: np.ndarray) -> bytes:
    """The same key for outlines within a few pixels of each other (scored once)."""
    return np.round(quad / 3).astype(np.int32).tobytes()


def _close_along_lines(binary: np.ndarray, length: int) -> np.ndarray:
    """Bridge gaps along horizontal and vertical lines (dashed, faded print) only."""
    horizontal = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((1, length), np.uint8))
    vertical = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((length, 1), np.uint8))
    return horizontal | vertical


def overlap_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller of two convex quads' area that lies inside the other."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    inter, _ = cv2.intersectConvexConvex(a, b)
    return float(inter / max(min(cv2.contourArea(a), cv2.contourArea(b)), 1e-6))


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
