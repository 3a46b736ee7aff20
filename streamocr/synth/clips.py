"""Seeded builder of synthetic video clips: a virtual camera moving over a printed Sudoku.

The camera starts over the puzzle, pans away until the grid has left the view entirely,
and comes back, with a slow rotation, zoom and perspective tilt. Each clip comes with a
per-frame truth (grid corners in the frame, whether the grid is fully in view, the givens),
written as JSON beside the MP4: the format `streamocr eval-video --truth` reads.

`build_kind_clip` makes the clip kinds the video scoring uses:

    printed  clear footage of a printed puzzle, hand-held (smooth random motion, small
             shake), leaving the view and coming back
    photo    the same over a real photographed page (a validation page of v2_train)
    dim      dim, noisy, blurred footage of a small, strongly tilted grid
    switch   the page is swapped for a different puzzle half-way
    empty    a desk with ruled paper and boxes but no puzzle

Also builds the built-in sample clip of the package::

    .venv/bin/python -m streamocr.synth.clips streamocr/samples/sudoku_sample.mp4 --sample
    .venv/bin/python -m streamocr.synth.clips out/printed.mp4 --kind printed --frames 300
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .builders import PUZZLE, SOLUTION, place_in_scene, render_grid

_DESK = (2300, 1100)  # the desk the camera looks at, in desk pixels
_PAPER_MARGIN = 30
# The labelled photos beside the checkout (``../shared/data/sudoku_photos``), or where
# STREAMOCR_PHOTOS points.
_PHOTOS = Path(
    os.environ.get(
        "STREAMOCR_PHOTOS",
        Path(__file__).resolve().parents[3] / "shared" / "data" / "sudoku_photos",
    )
)
CLIP_KINDS = ("printed", "photo", "dim", "switch", "empty")


@dataclass(frozen=True)
class ClipTruth:
    """The truth of a clip, frame by frame."""

    path: Path
    fps: int
    size: tuple[int, int]
    digits: str
    solution: str
    corners: list[list[list[float]] | None]  # per frame: four [x, y] clockwise from top-left
    in_view: list[bool]  # per frame: the whole grid lies inside the frame
    frame_digits: list[str | None] = field(default_factory=list)  # per frame: the givens
    puzzles: list[int | None] = field(default_factory=list)  # per frame: which puzzle

    @property
    def frames(self) -> int:
        """Number of frames."""
        return len(self.in_view)

    def to_json(self) -> dict:
        """The JSON form written beside the clip."""
        return {
            "fps": self.fps,
            "size": list(self.size),
            "digits": self.digits,
            "solution": self.solution,
            "frames": [
                {
                    "frame": i,
                    "corners": c,
                    "in_view": v,
                    "digits": self.frame_digits[i] if self.frame_digits else self.digits,
                    "puzzle": self.puzzles[i] if self.puzzles else 0,
                }
                for i, (c, v) in enumerate(zip(self.corners, self.in_view, strict=True))
            ],
        }


def _desk(digits: str, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The desk with the printed page on it, and the grid's corners on the desk."""
    grid = render_grid(digits, cell_px=48, seed=seed)
    pad = _PAPER_MARGIN
    paper = cv2.copyMakeBorder(grid, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(250, 250, 250))
    side = paper.shape[0] - 1
    cx, cy = 650.0, _DESK[1] / 2
    rng = np.random.default_rng(seed)
    half = side / 2
    paper_corners = np.array(
        [
            [cx - half, cy - half],
            [cx + half, cy - half],
            [cx + half, cy + half],
            [cx - half, cy + half],
        ]
    ) + rng.uniform(-12, 12, (4, 2))
    desk, _ = place_in_scene(paper, _DESK, paper_corners, seed=seed, light=0.3, noise=noise)
    m = cv2.getPerspectiveTransform(
        np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32),
        paper_corners.astype(np.float32),
    )
    gs = grid.shape[0] - 1
    inner = np.array([[0, 0], [gs, 0], [gs, gs], [0, gs]], np.float32) + np.float32(_PAPER_MARGIN)
    grid_corners = cv2.perspectiveTransform(inner.reshape(-1, 1, 2), m).reshape(4, 2)
    return desk, grid_corners


def _view_quad(u: float, size: tuple[int, int], pan_px: float) -> np.ndarray:
    """The desk quadrilateral seen by the camera at time u in [0, 1]."""
    w, h = size
    view_w = 860.0 * (1.0 + 0.08 * math.sin(2 * math.pi * u))  # slow zoom
    view_h = view_w * h / w
    # Hold over the page, pan away in the middle of the clip, come back and hold again.
    away = min(1.0, max(0.0, (u - 0.3) / 0.4))
    cx = 650.0 + pan_px * math.sin(math.pi * away) ** 2
    cy = _DESK[1] / 2 + 25.0 * math.sin(3 * math.pi * u)
    angle = 0.12 * math.sin(2 * math.pi * u + 0.5)
    tilt = 0.06 * math.cos(2 * math.pi * u)  # one side of the view wider: perspective
    return _tilted_view(cx, cy, view_w / 2, view_h / 2, tilt, angle)


def _fully_inside(corners: np.ndarray, w: int, h: int) -> bool:
    """Whether all four grid corners lie inside the frame (with a 2-pixel margin)."""
    inside = (corners[:, 0] >= 2) & (corners[:, 0] <= w - 3)
    inside &= (corners[:, 1] >= 2) & (corners[:, 1] <= h - 3)
    return bool(inside.all())


def _tilted_view(
    cx: float, cy: float, hw: float, hh: float, tilt: float, angle: float
) -> np.ndarray:
    """The camera's view on the desk: a rotated rectangle, one side wider (perspective)."""
    local = np.array(
        [
            [-hw * (1 - tilt), -hh],
            [hw * (1 - tilt), -hh],
            [hw * (1 + tilt), hh],
            [-hw * (1 + tilt), hh],
        ]
    )
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return (local @ rot.T + [cx, cy]).astype(np.float32)


@contextmanager
def h264_writer(
    path: Path, fps: int, size: tuple[int, int], crf: int, preset: str = "medium"
) -> Iterator[Callable[[np.ndarray], None]]:
    """An H.264 MP4 being written: yields `write(bgr_image)`; flushed and closed on exit."""
    container = av.open(str(path), mode="w")
    stream = container.add_stream("libx264", rate=Fraction(fps))
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.options = {"preset": preset, "crf": str(crf)}

    def write(image: np.ndarray) -> None:
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
            container.mux(packet)

    try:
        yield write
        for packet in stream.encode(None):
            container.mux(packet)
    finally:
        container.close()


def build_clip(
    path: Path | str,
    frames: int = 60,
    size: tuple[int, int] = (480, 360),
    fps: int = 30,
    seed: int = 0,
    digits: str = PUZZLE,
    solution: str = SOLUTION,
    noise: float = 3.0,
    crf: int = 23,
) -> ClipTruth:
    """Write an H.264 MP4 clip of a camera moving over a printed puzzle, and its truth JSON.

    Args:
        path: the MP4 to write; the truth goes to the same path with ``.json``.
        frames: number of frames (the grid leaves the view around the middle).
        size: frame (width, height).
        fps: frame rate.
        seed: seeds the page, the light and the sensor noise.
    """
    path = Path(path)
    w, h = size
    desk, grid_desk = _desk(digits, seed, noise)
    rng = np.random.default_rng(seed + 1)
    image_corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    corners_per_frame: list[list[list[float]] | None] = []
    in_view: list[bool] = []
    with h264_writer(path, fps, size, crf) as write:
        for i in range(frames):
            u = i / max(1, frames - 1)
            m = cv2.getPerspectiveTransform(_view_quad(u, size, pan_px=820.0), image_corners)
            image = cv2.warpPerspective(desk, m, (w, h), flags=cv2.INTER_AREA)
            if noise > 0:
                image = np.clip(image + rng.normal(0, noise / 2, image.shape), 0, 255)
                image = image.astype(np.uint8)
            corners = cv2.perspectiveTransform(grid_desk.reshape(-1, 1, 2), m).reshape(4, 2)
            corners_per_frame.append([[round(float(x), 2), round(float(y), 2)] for x, y in corners])
            in_view.append(_fully_inside(corners, w, h))
            write(image)
    truth = ClipTruth(path, fps, size, digits, solution, corners_per_frame, in_view)
    path.with_suffix(".json").write_text(json.dumps(truth.to_json()))
    return truth


@dataclass(frozen=True)
class _Page:
    """What lies on the desk: its image, and the grid's corners and givens (None: none)."""

    desk: np.ndarray
    grid_corners: np.ndarray | None
    digits: str | None
    solution: str | None


def other_puzzle(digits: str = PUZZLE, solution: str = SOLUTION) -> tuple[str, str]:
    """A different valid puzzle: the digits relabelled and the grid transposed."""
    relabel = {str(d): str(10 - d) for d in range(1, 10)} | {"0": "0"}

    def turn(text: str) -> str:
        mapped = "".join(relabel[ch] for ch in text)
        return "".join(mapped[c * 9 + r] for r in range(9) for c in range(9))

    return turn(digits), turn(solution)


def _printed_page(digits: str, solution: str, seed: int, noise: float) -> _Page:
    desk, corners = _desk(digits, seed, noise)
    return _Page(desk, corners, digits, solution)


def _photo_page(page: str, seed: int) -> _Page:
    """A real photographed page (v2_train) laid on the desk; truth from .dat and outlines."""
    from streamocr.dataset import read_page

    photo, outline, digits = read_page(_PHOTOS / "v2_train", page)
    from streamocr.solve import solve

    solved = solve(digits)
    solution = "".join(str(int(d)) for d in solved.solution) if solved.solution is not None else ""
    rng = np.random.default_rng(seed)
    desk = np.full((_DESK[1], _DESK[0], 3), rng.integers(90, 150), np.uint8)
    # The photo's grid about as large on the desk as the printed one.
    scale = 433.0 / float(np.linalg.norm(outline[1] - outline[0]))
    h, w = photo.shape[:2]
    cx, cy = 650.0, _DESK[1] / 2
    gc = outline.mean(axis=0)
    m = np.array([[scale, 0, cx - scale * gc[0]], [0, scale, cy - scale * gc[1]]], np.float32)
    cv2.warpAffine(photo, m, _DESK, dst=desk, borderMode=cv2.BORDER_TRANSPARENT)
    corners = (outline * scale + [cx - scale * gc[0], cy - scale * gc[1]]).astype(np.float32)
    return _Page(desk, corners, digits, solution)


def _empty_desk(seed: int) -> _Page:
    """A desk with ruled paper, text and boxes: things that are not a Sudoku."""
    rng = np.random.default_rng(seed)
    desk = np.full((_DESK[1], _DESK[0], 3), 120, np.uint8)
    desk[:] = rng.integers(90, 150, 3).astype(np.uint8)
    cv2.rectangle(desk, (350, 200), (950, 950), (245, 245, 245), -1)
    for y in range(240, 940, 28):
        cv2.line(desk, (360, y), (940, y), (200, 170, 150), 1)
        if rng.random() < 0.7:
            words = "".join(rng.choice(list("abcdefghij 0123456789"), 30))
            cv2.putText(desk, words, (380, y - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (40, 40, 40), 1)
    for _ in range(6):
        x, y = int(rng.integers(1000, 2100)), int(rng.integers(100, 900))
        s = int(rng.integers(60, 200))
        cv2.rectangle(desk, (x, y), (x + s, y + s), (30, 30, 30), 3)
    return _Page(desk, None, None, None)


def _smooth_noise(rng: np.random.Generator, frames: int, sigma: float) -> np.ndarray:
    """A smooth random signal (a few slow sines with random phases), mean 0, about ±sigma."""
    t = np.arange(frames) / 30.0
    out = np.zeros(frames)
    for freq in (0.13, 0.29, 0.47):
        out += np.sin(2 * np.pi * (freq * rng.uniform(0.7, 1.3) * t + rng.uniform(0, 1)))
    return sigma * out / 1.7


def _handheld_path(
    frames: int,
    size: tuple[int, int],
    seed: int,
    view_w: float,
    tilt: float,
    leave: bool,
    roll: float = 0.0,
) -> list[np.ndarray]:
    """Desk quads seen by a hand-held camera: slow random drift, small shake, maybe away."""
    rng = np.random.default_rng(seed + 11)
    w, h = size
    dx, dy = _smooth_noise(rng, frames, 30.0), _smooth_noise(rng, frames, 20.0)
    dzoom, dangle = _smooth_noise(rng, frames, 0.05), _smooth_noise(rng, frames, 0.06)
    # Shake: small, fast, a little smoothed (a hand, not sensor noise).
    shake = rng.normal(0, 1.6, (frames + 2, 3))
    shake = (shake[:-2] + shake[1:-1] + shake[2:]) / 3
    quads = []
    for i in range(frames):
        u = i / max(1, frames - 1)
        away = min(1.0, max(0.0, (u - 0.35) / 0.3)) if leave else 0.0
        cx = 650.0 + dx[i] + 900.0 * math.sin(math.pi * away) ** 2 + shake[i, 0]
        cy = _DESK[1] / 2 + dy[i] + shake[i, 1]
        vw = view_w * (1.0 + dzoom[i])
        vh = vw * h / w
        angle = roll + dangle[i] + 0.004 * shake[i, 2]
        quads.append(_tilted_view(cx, cy, vw / 2, vh / 2, tilt, angle))
    return quads


def _write_clip(
    path: Path,
    fps: int,
    size: tuple[int, int],
    quads: list[np.ndarray],
    page_at: Callable[[int], tuple[int | None, _Page]],
    degrade: Callable[[np.ndarray, np.random.Generator], np.ndarray],
    seed: int,
    crf: int = 23,
) -> ClipTruth:
    """Render the camera's view of the desk frame by frame; write the MP4 and its truth."""
    w, h = size
    rng = np.random.default_rng(seed + 1)
    image_corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    corners_per_frame: list[list[list[float]] | None] = []
    in_view: list[bool] = []
    frame_digits: list[str | None] = []
    puzzles: list[int | None] = []
    first_digits = first_solution = None
    with h264_writer(path, fps, size, crf) as write:
        for i, quad in enumerate(quads):
            puzzle, page = page_at(i)
            m = cv2.getPerspectiveTransform(quad, image_corners)
            image = cv2.warpPerspective(
                page.desk, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT
            )
            image = degrade(image, rng)
            if page.grid_corners is None:
                corners_per_frame.append(None)
                in_view.append(False)
                frame_digits.append(None)
                puzzles.append(None)
            else:
                corners = cv2.perspectiveTransform(
                    page.grid_corners.reshape(-1, 1, 2).astype(np.float32), m
                ).reshape(4, 2)
                corners_per_frame.append(
                    [[round(float(x), 2), round(float(y), 2)] for x, y in corners]
                )
                in_view.append(_fully_inside(corners, w, h))
                frame_digits.append(page.digits)
                puzzles.append(puzzle)
                if first_digits is None:
                    first_digits, first_solution = page.digits, page.solution
            write(image)
    truth = ClipTruth(
        path,
        fps,
        size,
        first_digits or "",
        first_solution or "",
        corners_per_frame,
        in_view,
        frame_digits,
        puzzles,
    )
    path.with_suffix(".json").write_text(json.dumps(truth.to_json()))
    return truth


def _sensor(noise: float) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if noise <= 0:
            return image
        return np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)

    return degrade


def _dim(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Low light: dark, blurred (focus), strong sensor noise."""
    image = cv2.GaussianBlur(image, (0, 0), 0.9).astype(np.float32) * 0.4 + 8
    image += rng.normal(0, 4.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def build_kind_clip(
    path: Path | str,
    kind: str,
    frames: int = 300,
    size: tuple[int, int] = (480, 360),
    fps: int = 30,
    seed: int = 0,
    photo_page: str = "image8",
) -> ClipTruth:
    """Write one clip of a kind in `CLIP_KINDS` and its truth JSON (see the module doc).

    Args:
        path: the MP4 to write; the truth goes beside it with ``.json``.
        kind: printed, photo, dim, switch or empty.
        frames: number of frames (printed and photo leave the view in the middle third).
        photo_page: the validation page of ``v2_train`` the photo clip shows.
    """
    if kind not in CLIP_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CLIP_KINDS)}, got {kind!r}")
    path = Path(path)
    if kind == "printed":
        page = _printed_page(PUZZLE, SOLUTION, seed, noise=2.0)
        quads = _handheld_path(frames, size, seed, 860.0, 0.06, leave=True)
        return _write_clip(path, fps, size, quads, lambda i: (0, page), _sensor(2.0), seed)
    if kind == "photo":
        page = _photo_page(photo_page, seed)
        quads = _handheld_path(frames, size, seed, 860.0, 0.06, leave=True)
        return _write_clip(path, fps, size, quads, lambda i: (0, page), _sensor(2.0), seed)
    if kind == "dim":
        page = _printed_page(PUZZLE, SOLUTION, seed, noise=2.0)
        # A far camera (small grid), strongly tilted: one side of the view 1.8x the other.
        quads = _handheld_path(frames, size, seed, 1250.0, 0.2, leave=False, roll=0.3)
        return _write_clip(path, fps, size, quads, lambda i: (0, page), _dim, seed)
    if kind == "switch":
        first = _printed_page(PUZZLE, SOLUTION, seed, noise=2.0)
        second = _printed_page(*other_puzzle(), seed + 5, noise=2.0)
        quads = _handheld_path(frames, size, seed, 860.0, 0.06, leave=False)
        half = frames // 2
        pages = lambda i: (0, first) if i < half else (1, second)  # noqa: E731
        return _write_clip(path, fps, size, quads, pages, _sensor(2.0), seed)
    page = _empty_desk(seed)
    quads = _handheld_path(frames, size, seed, 1100.0, 0.06, leave=False)
    quads = [q + np.array([0, 0], np.float32) for q in quads]
    return _write_clip(path, fps, size, quads, lambda i: (None, page), _sensor(2.0), seed)


def score_clip(path: Path, reader=None):
    """Run the pipeline on a clip as `streamocr eval-video` does (default configuration)
    and score it against the truth JSON beside it.

    Args:
        reader: a `SudokuReader` to reuse across clips; None makes one.

    Returns:
        The `streamocr.evalvideo.VideoScore`.
    """
    from streamocr.evalvideo import VideoTruth, score_video
    from streamocr.pipeline import process_video

    records: list[dict] = []
    process_video(str(path), reader=reader, records=records)
    truth = VideoTruth.from_json(json.loads(Path(path).with_suffix(".json").read_text()))
    return score_video(records, truth)


def main(argv: list[str] | None = None) -> int:
    """Build one clip from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="480x360", help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sample", action="store_true", help="the package's sample: 640x480, 8 s, small file"
    )
    parser.add_argument("--kind", choices=CLIP_KINDS, help="a clip kind for eval-video")
    parser.add_argument(
        "--page", default="image8", help="the v2_train validation page a photo clip shows"
    )
    args = parser.parse_args(argv)
    if args.kind:
        w, h = (int(v) for v in args.size.lower().split("x"))
        truth = build_kind_clip(
            args.out, args.kind, args.frames, (w, h), seed=args.seed, photo_page=args.page
        )
    elif args.sample:
        truth = build_clip(args.out, frames=240, size=(640, 480), seed=7, noise=1.5, crf=30)
    else:
        w, h = (int(v) for v in args.size.lower().split("x"))
        truth = build_clip(args.out, frames=args.frames, size=(w, h), seed=args.seed)
    kib = args.out.stat().st_size / 1024
    print(
        f"{args.out}: {truth.frames} frames, {sum(truth.in_view)} with the grid in view, {kib:.0f} KiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
