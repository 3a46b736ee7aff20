"""Seeded builders of synthetic Sudoku images shared by the tests (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# A valid puzzle and its solution (givens: 0 = empty).
PUZZLE = "530070000600195000098000060800060003400803001700020006060000280000419005000080079"
SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


@dataclass(frozen=True)
class SyntheticPhoto:
    """A rendered puzzle placed in a scene, with its truth."""

    image: np.ndarray  # BGR uint8
    digits: str  # 81 chars, 0 = empty
    corners: np.ndarray  # float32 (4, 2), clockwise from top-left, scene pixels


def render_grid(digits: str = PUZZLE, cell_px: int = 48, seed: int = 0) -> np.ndarray:
    """A flat, printed-looking Sudoku grid (BGR), one pixel per unit, border included."""
    rng = np.random.default_rng(seed)
    side = 9 * cell_px
    page = np.full((side + 1, side + 1, 3), 250, np.uint8)
    fonts = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX]
    font = fonts[int(rng.integers(len(fonts)))]
    for i, ch in enumerate(digits):
        if ch == "0":
            continue
        r, c = divmod(i, 9)
        scale = cell_px / 34.0
        (tw, th), _ = cv2.getTextSize(ch, font, scale, 2)
        x = c * cell_px + (cell_px - tw) // 2
        y = r * cell_px + (cell_px + th) // 2
        cv2.putText(page, ch, (x, y), font, scale, (20, 20, 20), max(2, cell_px // 20), cv2.LINE_AA)
    for k in range(10):
        thick = 3 if k % 3 == 0 else 1
        p = k * cell_px
        cv2.line(page, (p, 0), (p, side), (0, 0, 0), thick)
        cv2.line(page, (0, p), (side, p), (0, 0, 0), thick)
    return page


def place_in_scene(
    grid: np.ndarray,
    scene_size: tuple[int, int] = (640, 480),
    corners: np.ndarray | None = None,
    seed: int = 0,
    light: float = 0.35,
    noise: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp a flat grid into a scene with perspective, uneven light and noise.

    Returns:
        The scene (BGR) and the grid's corners in it.
    """
    rng = np.random.default_rng(seed)
    w, h = scene_size
    if corners is None:
        cx, cy, s = w / 2, h / 2, min(w, h) * 0.38
        base = np.array([[cx - s, cy - s], [cx + s, cy - s], [cx + s, cy + s], [cx - s, cy + s]])
        corners = base + rng.uniform(-0.12, 0.12, (4, 2)) * s
    corners = np.asarray(corners, np.float32)
    gs = grid.shape[0] - 1
    src = np.array([[0, 0], [gs, 0], [gs, gs], [0, gs]], np.float32)
    m = cv2.getPerspectiveTransform(src, corners)
    background = np.full((h, w, 3), rng.integers(90, 160), np.uint8)
    scene = cv2.warpPerspective(grid, m, (w, h), dst=background, borderMode=cv2.BORDER_TRANSPARENT)
    # Paper margin around the grid, so the outline sits on paper as in a newspaper.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(0, w), rng.uniform(0, h)
    shade = 1.0 - light * np.hypot(xx - gx, yy - gy) / np.hypot(w, h)
    scene = scene.astype(np.float32) * shade[..., None]
    scene += rng.normal(0, noise, scene.shape)
    return np.clip(scene, 0, 255).astype(np.uint8), corners


def synthetic_photo(seed: int = 0, digits: str = PUZZLE, **scene_kwargs) -> SyntheticPhoto:
    """A seeded synthetic photo of a printed Sudoku with its truth."""
    grid = render_grid(digits, seed=seed)
    margin = 24
    paper = cv2.copyMakeBorder(
        grid, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(250, 250, 250)
    )
    rng = np.random.default_rng(seed)
    w, h = scene_kwargs.pop("scene_size", (640, 480))
    cx, cy, s = w / 2, h / 2, min(w, h) * 0.40
    base = np.array([[cx - s, cy - s], [cx + s, cy - s], [cx + s, cy + s], [cx - s, cy + s]])
    paper_corners = (base + rng.uniform(-0.08, 0.08, (4, 2)) * s).astype(np.float32)
    scene, _ = place_in_scene(paper, (w, h), paper_corners, seed=seed, **scene_kwargs)
    ps = paper.shape[0] - 1
    m = cv2.getPerspectiveTransform(
        np.array([[0, 0], [ps, 0], [ps, ps], [0, ps]], np.float32), paper_corners
    )
    gs = grid.shape[0] - 1
    inner = np.array(
        [
            [margin, margin],
            [margin + gs, margin],
            [margin + gs, margin + gs],
            [margin, margin + gs],
        ],
        np.float32,
    ).reshape(-1, 1, 2)
    corners = cv2.perspectiveTransform(inner, m).reshape(4, 2)
    return SyntheticPhoto(scene, digits, corners)


def faint_lines_photo(
    thin: int = 150, seed: int = 0, thin_vertical: int | None = None, boxes: str = "puzzle"
) -> SyntheticPhoto:
    """A small, dim, blurred, noisy 1280x720 frame of a grid whose thin lines are faint.

    The box lines and the border are black; the thin lines are printed at gray `thin`
    (0 black, 245 the paper), so dimmed, blurred and noisy they fade into the paper at
    the grid search's working resolution (the hard footage of issue 14). `thin_vertical`
    prints the vertical thin lines at another gray (those a sideways motion blurs away).
    `boxes` is what the 3 x 3 boxes hold: "puzzle" (the digits of `PUZZLE`, one centred
    in each given's cell), "empty" (a window's panes) or "text" (a table's entries: three
    lines of small print across each box).
    """
    cell, margin = 40, 30
    side = 9 * cell
    page = np.full((side + 1, side + 1, 3), 245, np.uint8)
    if boxes == "puzzle":
        for i, ch in enumerate(PUZZLE):
            if ch != "0":
                r, c = divmod(i, 9)
                origin = (c * cell + 12, r * cell + 30)
                cv2.putText(
                    page, ch, origin, cv2.FONT_HERSHEY_SIMPLEX, 1.0, (40, 40, 40), 2, cv2.LINE_AA
                )
    elif boxes == "text":
        for box in range(9):
            top, left = divmod(box, 3)
            for row, words in enumerate(("Mon 14.20", "Tue 7.05", "Sat 21.45")):
                origin = (left * 3 * cell + 10, top * 3 * cell + 30 + row * 36)
                cv2.putText(
                    page, words, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.75, (40,) * 3, 2, cv2.LINE_AA
                )
    elif boxes != "empty":
        raise ValueError(f"boxes must be 'puzzle', 'empty' or 'text', got {boxes!r}")
    across = thin if thin_vertical is None else thin_vertical
    for k in range(10):
        p, box = k * cell, k % 3 == 0
        width = 3 if box else 1
        cv2.line(page, (p, 0), (p, side), (20,) * 3 if box else (across,) * 3, width)
        cv2.line(page, (0, p), (side, p), (20,) * 3 if box else (thin,) * 3, width)
    paper = cv2.copyMakeBorder(
        page, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(245, 245, 245)
    )
    ps = paper.shape[0] - 1
    outline = np.array([[520, 230], [770, 190], [800, 450], [540, 470]], np.float32)
    center = outline.mean(axis=0)
    paper_corners = center + (outline - center) * (ps / side)
    scene, _ = place_in_scene(paper, (1280, 720), paper_corners, seed=seed, light=0.3, noise=0.0)
    rng = np.random.default_rng(seed)
    scene = cv2.GaussianBlur(scene, (0, 0), 1.3).astype(np.float32) * 0.45
    scene = np.clip(scene + rng.normal(0, 5, scene.shape), 0, 255).astype(np.uint8)
    m = cv2.getPerspectiveTransform(
        np.array([[0, 0], [ps, 0], [ps, ps], [0, ps]], np.float32), paper_corners.astype(np.float32)
    )
    inner = np.array(
        [[margin, margin], [margin + side, margin], [margin + side] * 2, [margin, margin + side]],
        np.float32,
    )
    corners = cv2.perspectiveTransform(inner.reshape(-1, 1, 2), m).reshape(4, 2)
    return SyntheticPhoto(scene, PUZZLE, corners)
