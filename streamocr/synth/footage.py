"""A second clip generator, written apart from `clips.py`: a pinhole camera over a desk.

`streamocr.synth.clips` made every clip the video figures were measured on, so the pipeline
was tuned on one way of making footage. This module makes footage another way, to judge it
by: its own camera (a pinhole with a focal length, 3-D pose and hand-held motion, the page
a plane seen through the homography that camera gives), its own pages (puzzles made fresh
by the solver, printed in TrueType fonts through Pillow: thin sans and serif "1"s, faint
inner lines, headlines and text with digits beside the grid), real validation pages of
``v2_train`` laid on the desk, long straight distractor lines (cables, pens), and the faults
of real footage: defocus, motion blur from the camera's own motion, sensor noise, low
light, uneven light, low-bitrate H.264. The truth JSON is the one `streamocr eval-video`
reads, with two compatible additions: ``condition`` (clear, hard, unreadable) and
``readable`` (false: the footage cannot be read by eye, and nothing may be shown).

Conditions:

    clear       sharp enough to read by eye, any resolution up to 1920x1080, grids 20-90%
                of the frame height, corners leaving the frame, distractors, text
    hard        dim, noisy, blurred, small or strongly tilted grids, low bitrate
    unreadable  so dark, blurred and noisy that no digit can be read: show nothing
    empty       a desk with text, a ruled calendar and cables: no puzzle at all

Pillow renders the pages (the ``test`` extra installs it)::

    .venv/bin/python -m streamocr.synth.footage OUT.mp4 --condition hard --seed 3 \\
        --size 1280x720 [--page image1008] [--frames 240]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..geometry import quad_sides
from ..tracking import visible_share
from .clips import _PHOTOS, h264_writer

CONDITIONS = ("clear", "hard", "unreadable", "empty")
_GRID = 1000.0  # the grid's side in desk units; the grid spans -500..500 on both axes
# Fonts with thin sans "1"s (a bare stroke), serif "1"s (a foot and a flag) and others.
_FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))
_FONT_NAMES = (
    "LiberationSans-Regular.ttf",
    "LiberationSerif-Regular.ttf",
    "DejaVuSans-ExtraLight.ttf",
    "DejaVuSerif.ttf",
    "FreeSans.ttf",
    "FreeSerif.ttf",
    "LiberationSansNarrow-Regular.ttf",
    "DejaVuSans.ttf",
)
_WORDS = (
    "sudoku fill grid every row column box contains digits once difficulty medium hard "
    "solution tomorrow page puzzle weather news the of and in to 1 2 3 4 5 6 7 8 9 12 37 "
    "2026 No. 481 edition crossword clue across down answers"
).split()


def available_fonts() -> list[Path]:
    """The TrueType fonts this machine has, of those the pages are printed in."""
    found = []
    for name in _FONT_NAMES:
        for base in _FONT_DIRS:
            hits = sorted(base.rglob(name)) if base.is_dir() else []
            if hits:
                found.append(hits[0])
                break
    return found


@dataclass(frozen=True)
class FootageSpec:
    """Everything that makes one clip; drawn from a seed by `draw_spec`.

    Attributes:
        seed: seeds the page, the motion and the noise.
        size: frame (width, height).
        frames: frames in the clip.
        condition: one of `CONDITIONS`.
        page: a v2_train page name (real page) or None (a printed page).
        font: index into `available_fonts()` for a printed page.
        share: (low, high) grid height as a share of the frame height.
        tilt_deg: most out-of-plane tilt of the camera.
        roll_deg: the page's turn in the image.
        leave: the grid leaves the view entirely and comes back.
        corner_out: for a stretch of the clip a corner of the grid lies outside the frame.
        distractors: long straight lines (cables, pens) on the desk.
        light: scene brightness (1 bright office, 0.15 a dark room).
        noise: sensor noise, grey levels (sigma at full light).
        defocus_px: radius of the defocus blur, in pixels of a 720-line frame.
        shake: hand shake, in share of the grid side per frame.
        exposure: share of the frame time the shutter is open (motion blur).
        crf: H.264 quality (higher: fewer bits, more artefacts).
        faint_lines: grey of the inner grid lines (0 black; 200 faint).
    """

    seed: int
    size: tuple[int, int]
    frames: int
    condition: str
    page: str | None
    font: int
    share: tuple[float, float]
    tilt_deg: float
    roll_deg: float
    leave: bool
    corner_out: bool
    distractors: int
    light: float
    noise: float
    defocus_px: float
    shake: float
    exposure: float
    crf: int
    faint_lines: int


def draw_spec(
    condition: str,
    seed: int,
    size: tuple[int, int] = (1280, 720),
    frames: int = 240,
    page: str | None = None,
) -> FootageSpec:
    """Draw the settings of a clip of `condition` from `seed` (see the module doc)."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, got {condition!r}")
    rng = np.random.default_rng([seed, CONDITIONS.index(condition), 7])
    fonts = max(len(available_fonts()), 1)
    common = dict(
        seed=seed,
        size=size,
        frames=frames,
        condition=condition,
        page=page,
        font=int(rng.integers(fonts)),
        leave=bool(rng.random() < 0.5),
        corner_out=bool(rng.random() < 0.5),
        distractors=int(rng.integers(2, 7)),
    )
    if condition in ("clear", "empty"):
        low = float(rng.uniform(0.2, 0.7))
        return FootageSpec(
            **common,
            share=(low, min(0.9, low + float(rng.uniform(0.05, 0.3)))),
            tilt_deg=float(rng.uniform(5, 25)),
            roll_deg=float(rng.uniform(-20, 20)),
            light=float(rng.uniform(0.75, 1.05)),
            noise=float(rng.uniform(1.0, 3.0)),
            defocus_px=float(rng.uniform(0.0, 0.8)),
            shake=float(rng.uniform(0.002, 0.006)),
            exposure=float(rng.uniform(0.1, 0.3)),
            crf=int(rng.integers(23, 31)),
            faint_lines=int(rng.integers(0, 120)),
        )
    if condition == "hard":
        # A real page is a phone photo of about 640x480 already: at a fifth of a 720-line
        # frame its digits are beyond reading by eye; from 30% of the height they are not.
        low = float(rng.uniform(0.2, 0.3)) + (0.1 if page is not None else 0.0)
        return FootageSpec(
            **common,
            share=(low, low + float(rng.uniform(0.03, 0.12))),
            tilt_deg=float(rng.uniform(20, 40)),
            roll_deg=float(rng.uniform(-35, 35)),
            light=float(rng.uniform(0.3, 0.5)),
            noise=float(rng.uniform(3.0, 6.0)),
            defocus_px=float(rng.uniform(0.8, 1.8)),
            shake=float(rng.uniform(0.004, 0.01)),
            exposure=float(rng.uniform(0.3, 0.6)),
            crf=int(rng.integers(30, 36)),
            faint_lines=int(rng.integers(100, 200)),
        )
    low = float(rng.uniform(0.25, 0.4))
    return FootageSpec(  # unreadable
        **common,
        share=(low, low + 0.05),
        tilt_deg=float(rng.uniform(20, 40)),
        roll_deg=float(rng.uniform(-30, 30)),
        light=float(rng.uniform(0.12, 0.18)),
        noise=float(rng.uniform(8.0, 12.0)),
        defocus_px=float(rng.uniform(9.0, 12.0)),
        shake=float(rng.uniform(0.01, 0.02)),
        exposure=1.0,
        crf=int(rng.integers(38, 43)),
        faint_lines=int(rng.integers(100, 200)),
    )


# --- puzzles -------------------------------------------------------------------------------


def make_puzzle(rng: np.random.Generator, givens: int = 28) -> tuple[str, str]:
    """A fresh puzzle with exactly one solution (about `givens` givens) and its solution."""
    from streamocr.solve import solve

    base = np.array([[(r * 3 + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)])
    bands = np.concatenate([3 * b + rng.permutation(3) for b in rng.permutation(3)])
    stacks = np.concatenate([3 * b + rng.permutation(3) for b in rng.permutation(3)])
    full = base[bands][:, stacks]
    if rng.random() < 0.5:
        full = full.T
    full = (rng.permutation(9) + 1)[full - 1].reshape(81).astype(np.int8)
    puzzle = full.copy()
    for cell in rng.permutation(81):
        if np.count_nonzero(puzzle) <= givens:
            break
        kept = puzzle[cell]
        puzzle[cell] = 0
        result = solve(puzzle, check_unique=True, max_steps=20_000)
        if not (result.status == "solved" and result.unique):
            puzzle[cell] = kept
    return "".join(map(str, puzzle)), "".join(map(str, full))


# --- the desk ------------------------------------------------------------------------------


@dataclass
class _Desk:
    """The desk as a texture: `image` (BGR) with desk unit (x, y) at texture pixel
    ``scale * (x, y) + origin``."""

    image: np.ndarray
    scale: float
    origin: np.ndarray
    digits: str | None
    solution: str | None
    fill: tuple[int, int, int]

    def to_texture(self) -> np.ndarray:
        """The 3x3 map from desk units to texture pixels."""
        return np.array(
            [[self.scale, 0, self.origin[0]], [0, self.scale, self.origin[1]], [0, 0, 1]]
        )


def _font(index: int, px: int):
    from PIL import ImageFont

    fonts = available_fonts()
    if not fonts:
        raise RuntimeError("no TrueType font found (apt-get install fonts-dejavu-core)")
    return ImageFont.truetype(str(fonts[index % len(fonts)]), max(px, 6))


def _paper(
    spec: FootageSpec, digits: str | None, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The printed sheet (grey, uint8) and the grid's top-left in it, in pixels."""
    from PIL import Image, ImageDraw

    cell = _GRID / 9 * scale
    margin = int(1.4 * _GRID * scale)
    width = int(_GRID * scale) + 2 * margin
    height = int(_GRID * scale) + margin
    paper_grey = int(rng.integers(225, 250))
    sheet = Image.new("L", (width, height), paper_grey)
    draw = ImageDraw.Draw(sheet)
    left, top = margin, int(0.5 * margin)
    ink = int(rng.integers(0, 50))
    # Headline and columns of text beside the grid (digits among the words).
    draw.text(
        (left, top - 0.9 * cell),
        "SUDOKU No. 4127",
        fill=ink,
        font=_font(spec.font, int(0.7 * cell)),
    )
    small = _font(spec.font + 1, int(0.3 * cell))
    for column_left in (left - int(1.3 * _GRID * scale), left + int(1.1 * _GRID * scale)):
        y = top
        while y < top + _GRID * scale:
            words = " ".join(rng.choice(_WORDS, 6))
            draw.text((column_left, y), words, fill=ink, font=small)
            y += int(0.45 * cell)
    if digits is not None:
        faint = spec.faint_lines
        for k in range(10):
            thick = max(1, int(round(cell * (0.06 if k % 3 == 0 else 0.015))))
            grey = ink if k % 3 == 0 else max(ink, faint)
            pos = int(round(k * cell))
            draw.line([(left + pos, top), (left + pos, top + 9 * cell)], fill=grey, width=thick)
            draw.line([(left, top + pos), (left + 9 * cell, top + pos)], fill=grey, width=thick)
        font = _font(spec.font, int(0.7 * cell))
        for i, d in enumerate(digits):
            if d == "0":
                continue
            cx = left + (i % 9 + 0.5) * cell + rng.normal(0, 0.02) * cell
            cy = top + (i // 9 + 0.5) * cell + rng.normal(0, 0.02) * cell
            draw.text((cx, cy), d, fill=ink, font=font, anchor="mm")
    else:
        # A ruled calendar (7 x 5 boxes) and a table: grids that are not Sudokus.
        for k in range(8):
            x = int(left + k * _GRID * scale / 7)
            draw.line([(x, top), (x, top + int(_GRID * scale * 5 / 7))], fill=ink, width=2)
        for k in range(6):
            y = int(top + k * _GRID * scale / 7)
            draw.line([(left, y), (left + int(_GRID * scale), y)], fill=ink, width=2)
        font = _font(spec.font, int(0.3 * cell))
        for day in range(31):
            x = left + (day % 7) * _GRID * scale / 7 + 0.1 * cell
            y = top + (day // 7) * _GRID * scale / 7 + 0.1 * cell
            draw.text((x, y), str(day + 1), fill=ink, font=font)
    return np.asarray(sheet), np.array([left, top], np.float64)


def _cables(desk: np.ndarray, count: int, keep_clear: np.ndarray, rng: np.random.Generator) -> None:
    """Long straight lines across the desk (cables, pens, a ruler's edge), not over the grid."""
    h, w = desk.shape[:2]
    layer = desk.copy()
    for _ in range(count):
        angle = rng.uniform(0, math.pi)
        c = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        d = np.array([math.cos(angle), math.sin(angle)]) * 2 * max(w, h)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        width = int(rng.integers(2, max(3, min(w, h) // 60)))
        p, q = (c - d).astype(int), (c + d).astype(int)
        if rng.random() < 0.3:  # a pen: a short thick segment
            p, q = (c - d / 12).astype(int), (c + d / 12).astype(int)
        cv2.line(layer, tuple(p), tuple(q), colour, width, cv2.LINE_AA)
    cv2.copyTo(layer, (1 - keep_clear).astype(np.uint8), desk)


def _build_desk(spec: FootageSpec, extent: np.ndarray, scale: float) -> _Desk:
    """The desk texture covering `extent` (desk units x0, y0, x1, y1) at `scale` px/unit."""
    rng = np.random.default_rng([spec.seed, 11])
    x0, y0, x1, y1 = extent
    width, height = int((x1 - x0) * scale) + 1, int((y1 - y0) * scale) + 1
    origin = np.array([-x0 * scale, -y0 * scale])
    fill = tuple(int(v) for v in rng.integers(60, 170, 3))
    # Wood grain: noise stretched along x, made small and enlarged (fast on a big desk).
    grain = rng.normal(0, 10, (max(height // 40, 2), max(width // 8, 2), 1))
    small = np.clip(np.array(fill, np.float64) + grain, 0, 255).astype(np.uint8)
    desk = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    to_tex = np.array([[scale, 0, origin[0]], [0, scale, origin[1]], [0, 0, 1]])
    grid_tex = cv2.perspectiveTransform(_grid_corners().reshape(-1, 1, 2), to_tex).reshape(4, 2)
    digits = solution = None
    if spec.page is not None:
        photo, outline, digits = _real_page(spec.page)
        from streamocr.solve import solve

        solved = solve(np.array([int(c) for c in digits], np.int8))
        if solved.solution is not None:
            solution = "".join(map(str, solved.solution))
        h = cv2.getPerspectiveTransform(outline.astype(np.float32), grid_tex.astype(np.float32))
        cv2.warpPerspective(photo, h, (width, height), dst=desk, borderMode=cv2.BORDER_TRANSPARENT)
    else:
        if spec.condition != "empty":
            digits, solution = make_puzzle(rng, int(rng.integers(24, 33)))
        sheet, grid_at = _paper(spec, digits, scale, rng)
        tint = np.array([1.0, rng.uniform(0.97, 1.0), rng.uniform(0.93, 1.0)])
        paper = np.clip(sheet[..., None] * tint, 0, 255).astype(np.uint8)
        place = grid_tex[0] - grid_at
        m = np.array([[1, 0, place[0]], [0, 1, place[1]]], np.float64)
        cv2.warpAffine(paper, m, (width, height), dst=desk, borderMode=cv2.BORDER_TRANSPARENT)
    clear_zone = np.zeros(desk.shape[:2], np.uint8)
    cv2.fillConvexPoly(clear_zone, np.round(_grown(grid_tex, 0.06)).astype(np.int32), 1)
    _cables(desk, spec.distractors, clear_zone, rng)
    return _Desk(desk, scale, origin, digits, solution, fill)


def _grid_corners() -> np.ndarray:
    half = _GRID / 2
    return np.array([[-half, -half], [half, -half], [half, half], [-half, half]], np.float32)


def _grown(quad: np.ndarray, share: float) -> np.ndarray:
    centre = quad.mean(axis=0)
    return centre + (quad - centre) * (1 + 2 * share)


def _real_page(page: str) -> tuple[np.ndarray, np.ndarray, str]:
    """A v2_train validation page: the photo, its grid outline and its digits."""
    from streamocr.dataset import is_validation_page, read_page

    if not is_validation_page(page):
        raise ValueError(f"{page} is a training page; footage uses validation pages only")
    return read_page(_PHOTOS / "v2_train", page)


def validation_pages() -> list[str]:
    """The v2_train validation pages whose whole grid lies inside the photo."""
    from streamocr.dataset import load_folder, read_outlines

    folder = _PHOTOS / "v2_train"
    outlines = read_outlines(folder)
    pages = []
    for photo in load_folder(folder, split="validation"):
        image = cv2.imread(str(photo.image_path))
        outline = outlines[photo.page]
        h, w = image.shape[:2]
        if (outline >= 0).all() and (outline[:, 0] < w).all() and (outline[:, 1] < h).all():
            pages.append(photo.page)
    return pages


# --- the camera ----------------------------------------------------------------------------


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = (f(a) for a in (pitch, yaw, roll) for f in (math.cos, math.sin))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ rx @ ry


def _smooth(rng: np.random.Generator, frames: int, period: float) -> np.ndarray:
    """A smooth random walk in -1..1: noise low-passed over about `period` frames."""
    raw = rng.normal(0, 1, frames + int(4 * period))
    kernel = np.hanning(max(int(2 * period), 3))
    walk = np.convolve(raw, kernel / kernel.sum(), mode="same")[int(2 * period) :][:frames]
    return np.clip(walk / (np.abs(walk).max() + 1e-9), -1, 1)


def camera_path(spec: FootageSpec) -> list[np.ndarray]:
    """Per frame, the homography from desk units to frame pixels.

    A pinhole camera (focal length 0.85 of the frame width) looks at a point of the desk
    from a distance that makes the grid `share` of the frame height; it pitches, yaws and
    rolls smoothly, shakes, and, as the spec asks, pans away until the grid has left the
    view and back, or pushes one corner of the grid out of the frame for a while.
    """
    rng = np.random.default_rng([spec.seed, 23])
    w, h = spec.size
    n = spec.frames
    f = 0.85 * w
    k = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    t = np.arange(n)
    lo, hi = spec.share
    share = lo + (hi - lo) * (0.5 + 0.5 * _smooth(rng, n, 50))
    pitch = np.radians(spec.tilt_deg) * _smooth(rng, n, 60)
    yaw = np.radians(spec.tilt_deg) * _smooth(rng, n, 70)
    roll = np.radians(spec.roll_deg) + np.radians(8) * _smooth(rng, n, 80)
    shake = spec.shake * _GRID * rng.normal(0, 1, (n, 2))
    drift = 0.04 * _GRID * np.stack([_smooth(rng, n, 40), _smooth(rng, n, 40)], axis=1)
    target = drift + np.cumsum(shake, axis=0) * 0.3 + shake
    distance = f * _GRID / (share * h)
    view_half = np.stack([distance * w / (2 * f), distance * h / (2 * f)], axis=1)
    ramp = np.clip(np.minimum(t - 0.3 * n, 0.7 * n - t) / (0.08 * n), 0, 1)
    if spec.leave:
        direction = rng.choice([-1.0, 1.0], 2) * np.array([1.0, rng.uniform(0, 0.6)])
        away = (view_half[:, 0:1] + 0.9 * _GRID) * 1.3
        target = target + ramp[:, None] * away * direction
    pose = [(pitch[i], yaw[i], roll[i], distance[i]) for i in range(n)]
    if not spec.leave and spec.corner_out:
        # One corner pushed out of the frame: the grid's centre moved (in the middle of the
        # clip) until only 80-90% of its area stays in view.
        direction = rng.choice([-1.0, 1.0], 2) * np.array([1.0, rng.uniform(0.3, 1.0)])
        middle = n // 2
        keep = rng.uniform(0.8, 0.9)
        lo_push, hi_push = 0.0, 3 * _GRID
        for _ in range(30):
            push = (lo_push + hi_push) / 2
            m = _homography(k, *pose[middle], target[middle] + push * direction)
            corners = cv2.perspectiveTransform(_grid_corners().reshape(-1, 1, 2), m)
            if visible_share(corners.reshape(4, 2), w, h) > keep:
                lo_push = push
            else:
                hi_push = push
        target = target + ramp[:, None] * lo_push * direction
    return [_homography(k, *pose[i], target[i]) for i in range(n)]


def _homography(
    k: np.ndarray, pitch: float, yaw: float, roll: float, distance: float, target: np.ndarray
) -> np.ndarray:
    """Desk units to frame pixels for a camera `distance` from `target`, so turned."""
    r = _rotation(pitch, yaw, roll)
    axis = r.T @ np.array([0.0, 0.0, 1.0])
    centre = np.array([target[0], target[1], 0.0]) - distance * axis
    m = k @ np.column_stack([r[:, 0], r[:, 1], -r @ centre])
    return m / m[2, 2]


# --- the sensor ----------------------------------------------------------------------------


def _disk(radius: float) -> np.ndarray | None:
    if radius < 0.4:
        return None
    size = int(math.ceil(radius)) * 2 + 1
    yy, xx = np.mgrid[:size, :size] - size // 2
    kernel = np.clip(radius + 0.5 - np.hypot(xx, yy), 0, 1).astype(np.float32)
    return kernel / kernel.sum()


def _streak(motion: np.ndarray) -> np.ndarray | None:
    length = float(np.hypot(*motion))
    if length < 1.0:
        return None
    size = int(math.ceil(length)) * 2 + 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    end = (int(round(c + motion[0] / 2)), int(round(c + motion[1] / 2)))
    start = (int(round(c - motion[0] / 2)), int(round(c - motion[1] / 2)))
    cv2.line(kernel, start, end, 1.0, 1, cv2.LINE_AA)
    return kernel / kernel.sum()


class _Sensor:
    """What the camera does to the scene: shading, defocus, motion blur, light, noise.

    The noise comes from a few fields drawn once and cut at random offsets per frame
    (drawing 6 million normal values a frame would cost more than the rest together).
    """

    def __init__(self, spec: FootageSpec, rng: np.random.Generator) -> None:
        w, h = spec.size
        self.spec = spec
        self.rng = rng
        yy, xx = np.mgrid[:h, :w].astype(np.float32)
        r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        slope = rng.uniform(-0.25, 0.25, 2)
        shading = (1 - 0.35 * r2) * (1 + slope[0] * (xx / w - 0.5) + slope[1] * (yy / h - 0.5))
        self.shading = cv2.merge([shading.astype(np.float32)] * 3)
        self.noise = [rng.normal(0, 1, (h + 32, w + 32, 3)).astype(np.float32) for _ in range(3)]
        self.defocus = _disk(spec.defocus_px * h / 720)

    def expose(self, image: np.ndarray, motion: np.ndarray) -> np.ndarray:
        """The frame the sensor records of `image` with the camera moving by `motion` px."""
        spec = self.spec
        w, h = spec.size
        out = image
        for kernel in (self.defocus, _streak(motion * spec.exposure)):
            if kernel is not None:
                out = cv2.filter2D(out, -1, kernel, borderType=cv2.BORDER_REFLECT)
        # Shot noise grows with the signal, read noise does not; a dim scene is amplified
        # (gain), and its noise with it.
        gain = min(0.7 / spec.light, 3.0) if spec.light < 0.7 else 1.0
        out = cv2.multiply(out.astype(np.float32), self.shading, scale=spec.light)
        sigma = cv2.sqrt(out * np.float32(1 / 255) + np.float32(0.3)) * np.float32(spec.noise)
        field = self.noise[int(self.rng.integers(len(self.noise)))]
        dx, dy = (int(v) for v in self.rng.integers(0, 32, 2))
        out += field[dy : dy + h, dx : dx + w] * sigma
        return cv2.convertScaleAbs(out, alpha=gain)


def build_footage(path: Path | str, spec: FootageSpec) -> dict:
    """Write the clip of `spec` as H.264 MP4 at `path` and its truth JSON beside it.

    Returns:
        The truth (the JSON written), with ``condition``, ``readable`` and ``spec`` added
        to the format `streamocr.evalvideo.VideoTruth` reads.
    """
    path = Path(path)
    w, h = spec.size
    homographies = camera_path(spec)
    frame_box = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    seen = np.concatenate(
        [cv2.perspectiveTransform(frame_box, np.linalg.inv(m)).reshape(4, 2) for m in homographies]
    )
    margin = 0.3 * _GRID
    extent = np.concatenate([seen.min(axis=0) - margin, seen.max(axis=0) + margin])
    extent = np.clip(extent, -6 * _GRID, 6 * _GRID)
    # Texture pixels per desk unit: the grid a little larger in the texture than in the
    # largest frame (no aliasing), within what memory allows.
    largest = max(_side_px(m) for m in homographies)
    scale = float(np.clip(1.3 * largest / _GRID, 0.25, 1.6))
    span = max(extent[2] - extent[0], extent[3] - extent[1])
    scale = min(scale, 7000 / span)
    desk = _build_desk(spec, extent, scale)
    sensor = _Sensor(spec, np.random.default_rng([spec.seed, 31]))
    to_tex_inv = np.linalg.inv(desk.to_texture())
    frames = []
    grid = _grid_corners().reshape(-1, 1, 2)
    with h264_writer(path, 30, spec.size, spec.crf, preset="veryfast") as write:
        previous = None
        for m in homographies:
            view = cv2.warpPerspective(
                desk.image,
                m @ to_tex_inv,
                spec.size,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=desk.fill,
            )
            corners = cv2.perspectiveTransform(grid, m).reshape(4, 2)
            centre = corners.mean(axis=0)
            motion = np.zeros(2) if previous is None else centre - previous
            previous = centre
            write(sensor.expose(view, motion))
            if desk.digits is None:
                frames.append({"corners": None, "in_view": False, "digits": None, "puzzle": None})
                continue
            inside = (corners >= 0).all() and (corners[:, 0] <= w - 1).all()
            inside = inside and (corners[:, 1] <= h - 1).all()
            frames.append(
                {
                    "corners": corners.round(2).tolist(),
                    "in_view": bool(inside),
                    "digits": desk.digits,
                    "puzzle": 0,
                }
            )
    truth = {
        "fps": 30,
        "size": [w, h],
        "digits": desk.digits,
        "solution": desk.solution,
        "condition": spec.condition,
        "readable": spec.condition != "unreadable",
        "generator": "footage",
        "spec": asdict(spec),
        "frames": [{"frame": i, **f} for i, f in enumerate(frames)],
    }
    path.with_suffix(".json").write_text(json.dumps(truth))
    return truth


def _side_px(m: np.ndarray) -> float:
    corners = cv2.perspectiveTransform(_grid_corners().reshape(-1, 1, 2), m).reshape(4, 2)
    return max(quad_sides(corners))


_SIZES = ((640, 480), (960, 540), (1280, 720), (800, 600), (1280, 720), (1920, 1080))


def footage_set(seeds: list[int], pages: list[str], frames: int = 180) -> list[FootageSpec]:
    """The specs of a set: per seed a clear and a hard printed page, a clear and a hard
    real page (the `pages` in turn), every other seed an unreadable clip; one empty desk.

    Resolutions cycle through 480 lines to 1080p (hard footage at 720p: the issue's real
    pages were filmed so); a seed gives the same clips whenever the set is built.
    """
    specs = []
    for n, seed in enumerate(seeds):
        size = _SIZES[seed % len(_SIZES)]
        page = pages[n % len(pages)] if pages else None
        other = pages[(n + len(pages) // 2) % len(pages)] if pages else None
        specs.append(draw_spec("clear", seed, size, frames))
        specs.append(draw_spec("hard", seed, (1280, 720), frames))
        if page is not None:
            specs.append(draw_spec("clear", seed, _SIZES[(seed + 2) % len(_SIZES)], frames, page))
            specs.append(draw_spec("hard", seed, (1280, 720), frames, other))
        if n % 2 == 0:
            specs.append(draw_spec("unreadable", seed, (960, 540), frames, other))
    if seeds:
        specs.append(draw_spec("empty", seeds[0], (1280, 720), frames))
    return specs


def spec_name(spec: FootageSpec) -> str:
    """A file name for the clip of a spec: condition, page, seed, size."""
    page = f"_{spec.page}" if spec.page else ""
    return f"{spec.condition}{page}_s{spec.seed}_{spec.size[1]}p"


def main(argv: list[str] | None = None) -> int:
    """Build one clip from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--condition", choices=CONDITIONS, default="clear")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="1280x720", help="WxH")
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--page", default=None, help="a v2_train validation page, e.g. image1008")
    args = parser.parse_args(argv)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
        spec = draw_spec(args.condition, args.seed, (w, h), args.frames, args.page)
        truth = build_footage(args.out, spec)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    in_view = sum(f["in_view"] for f in truth["frames"])
    print(f"{args.out}: {len(truth['frames'])} frames, {in_view} with the grid in view")
    return 0


if __name__ == "__main__":
    sys.exit(main())
