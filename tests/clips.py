"""Seeded builder of synthetic video clips: a virtual camera moving over a printed Sudoku.

The camera starts over the puzzle, pans away until the grid has left the view entirely,
and comes back, with a slow rotation, zoom and perspective tilt. Each clip comes with a
per-frame truth (grid corners in the frame, whether the grid is fully in view, the givens),
written as JSON beside the MP4.

Also builds the built-in sample clip of the package::

    .venv/bin/python tests/clips.py streamocr/samples/sudoku_sample.mp4 --sample
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from builders import PUZZLE, SOLUTION, place_in_scene, render_grid  # noqa: E402

_DESK = (2300, 1100)  # the desk the camera looks at, in desk pixels
_PAPER_MARGIN = 30


@dataclass(frozen=True)
class ClipTruth:
    """The truth of a clip, frame by frame."""

    path: Path
    fps: int
    size: tuple[int, int]
    digits: str
    solution: str
    corners: list[list[list[float]]]  # per frame: four [x, y], clockwise from top-left
    in_view: list[bool]  # per frame: the whole grid lies inside the frame

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
                {"frame": i, "corners": c, "in_view": v}
                for i, (c, v) in enumerate(zip(self.corners, self.in_view, strict=True))
            ],
        }


def _desk(digits: str, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The desk with the printed page on it, and the grid's corners on the desk."""
    grid = render_grid(digits, cell_px=48, seed=seed)
    paper = cv2.copyMakeBorder(
        grid, *(4 * [_PAPER_MARGIN]), cv2.BORDER_CONSTANT, value=(250, 250, 250)
    )
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
    hw, hh = view_w / 2, view_h / 2
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
    corners_per_frame, in_view = [], []
    container = av.open(str(path), mode="w")
    stream = container.add_stream("libx264", rate=Fraction(fps))
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.options = {"preset": "medium", "crf": str(crf)}
    try:
        for i in range(frames):
            u = i / max(1, frames - 1)
            m = cv2.getPerspectiveTransform(_view_quad(u, size, pan_px=820.0), image_corners)
            image = cv2.warpPerspective(desk, m, (w, h), flags=cv2.INTER_AREA)
            if noise > 0:
                image = np.clip(image + rng.normal(0, noise / 2, image.shape), 0, 255)
                image = image.astype(np.uint8)
            corners = cv2.perspectiveTransform(grid_desk.reshape(-1, 1, 2), m).reshape(4, 2)
            corners_per_frame.append([[round(float(x), 2), round(float(y), 2)] for x, y in corners])
            inside = (corners[:, 0] >= 2) & (corners[:, 0] <= w - 3)
            inside &= (corners[:, 1] >= 2) & (corners[:, 1] <= h - 3)
            in_view.append(bool(inside.all()))
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    finally:
        container.close()
    truth = ClipTruth(path, fps, size, digits, solution, corners_per_frame, in_view)
    path.with_suffix(".json").write_text(json.dumps(truth.to_json()))
    return truth


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
    args = parser.parse_args(argv)
    if args.sample:
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
