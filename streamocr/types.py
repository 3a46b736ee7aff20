"""Typed values passed between stages: frames, grid detections, readings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from .geometry import polygon_area

DIGIT_CLASSES = 10  # class 0 = empty cell, classes 1..9 = the digit


class Status(StrEnum):
    """What came of reading one grid; a `str`, so records and messages show the bare value.

    Members:
        NOT_FOUND: no grid in the image.
        SOLVED: the reading follows the rules and has a solution.
        INVALID: the reading breaks a Sudoku rule (a digit twice in a row, column or box).
        UNSOLVABLE: the reading follows the rules but has no solution.
        GAVE_UP: the solver's step budget ran out (valid newspaper puzzles never hit it).
        PENDING: video only: the evidence over frames has not yet confirmed the reading.
        UNSURE: one image's reading has a solution, but it cannot be vouched for: the
            solution is not unique, or a cell read with doubt would pass the rules read
            otherwise too (its cells are in `doubtful`). No solution is given: a wrong
            digit written in from a misread is the worst thing to show.
    """

    NOT_FOUND = "not_found"
    SOLVED = "solved"
    INVALID = "invalid"
    UNSOLVABLE = "unsolvable"
    GAVE_UP = "gave_up"
    PENDING = "pending"
    UNSURE = "unsure"


class Decoded(Protocol):
    """A frame as its decoder gave it (`yuv.YuvFrame`): BGR and ink gray made on request."""

    def bgr(self) -> np.ndarray: ...

    def ink_gray(self) -> np.ndarray: ...


class Frame:
    """One decoded video frame.

    Attributes:
        image: BGR uint8 array of shape (H, W, 3). A frame a decoder gave as YUV
            (`decoded`) makes it on first use: a run that draws nothing never does.
        index: position in decode order, from 0.
        pts_s: presentation time in seconds (from the stream when known, else index / fps).
        source: a short name of where the frame came from.
        decoded: the frame as decoded, when kept (its ink gray is then made from it:
            `ink_gray`); None for a frame given as BGR.
    """

    __slots__ = ("_image", "index", "pts_s", "source", "decoded")

    def __init__(
        self,
        image: np.ndarray | None,
        index: int,
        pts_s: float,
        source: str = "",
        decoded: Decoded | None = None,
    ) -> None:
        if image is None:
            if decoded is None:
                raise ValueError("a frame needs an image or its decoded picture")
        elif image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"frame image must be uint8 (H, W, 3), got {image.dtype} {image.shape}"
            )
        self._image = image
        self.index = index
        self.pts_s = pts_s
        self.source = source
        self.decoded = decoded

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            assert self.decoded is not None
            return self.decoded.bgr()
        return self._image

    def ink_gray(self) -> np.ndarray:
        """The frame's ink gray (`preprocess.ink_gray` of `image`), from the decoded planes
        when the frame kept them."""
        if self.decoded is not None:
            return self.decoded.ink_gray()
        from .preprocess import ink_gray  # here: these typed values import no OpenCV or Numba

        return ink_gray(self.image)

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, pts_s={self.pts_s:.3f}, source={self.source!r})"


@dataclass(frozen=True)
class GridDetection:
    """Where the Sudoku grid lies in an image.

    Attributes:
        corners: float32 (4, 2), clockwise from the grid's top-left, in image pixels.
        homography: 3x3 mapping warped-grid pixels to image pixels.
        warp_size: side of the square warped grid, in pixels.
        score: plausibility of the quadrilateral as a Sudoku grid, 0..1.
    """

    corners: np.ndarray
    homography: np.ndarray
    warp_size: int
    score: float = 1.0

    def __post_init__(self) -> None:
        if self.corners.shape != (4, 2):
            raise ValueError(f"corners must have shape (4, 2), got {self.corners.shape}")
        if self.homography.shape != (3, 3):
            raise ValueError(f"homography must have shape (3, 3), got {self.homography.shape}")

    @property
    def area(self) -> float:
        """Area of the grid outline in image pixels."""
        return polygon_area(self.corners)


@dataclass(frozen=True)
class Reading:
    """The 81 cells of one grid as recognised.

    Attributes:
        digits: int8 (81,), 0 for empty, row by row.
        confidence: float32 (81,), probability of the chosen class.
        probabilities: float32 (81, 10), per-class probabilities (class 0 = empty).
    """

    digits: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.digits.shape != (81,):
            raise ValueError(f"digits must have shape (81,), got {self.digits.shape}")
        if self.probabilities.shape != (81, DIGIT_CLASSES):
            raise ValueError(
                f"probabilities must have shape (81, {DIGIT_CLASSES}), got {self.probabilities.shape}"
            )

    @property
    def digit_string(self) -> str:
        """The 81 digits as a string, '0' for empty."""
        return "".join(str(int(d)) for d in self.digits)


@dataclass(frozen=True)
class CellBatch:
    """The model inputs of one found grid, in one or more orientations, ready for recognition.

    Attributes:
        detection: the grid as found (corners from the image's top-left).
        inputs: float32 (R * 81, 1, 28, 28): the cells of R rotations of the grid.
        has_ink: bool (R * 81,) whether each cell holds ink.
        rotations: R, 1 (as found) or 4 (0, 90, 180, 270 degrees counter-clockwise; see
            `streamocr.orientation`).
        faint_ink: bool (R * 81,) cells without ink that are still dark in their middle
            (`cells.cells_with_faint_ink`): a frame cannot tell them empty. None: unknown.
    """

    detection: GridDetection
    inputs: np.ndarray
    has_ink: np.ndarray
    rotations: int = 1
    faint_ink: np.ndarray | None = None

    def __post_init__(self) -> None:
        rows = self.rotations * 81
        if self.inputs.shape != (rows, 1, 28, 28):
            raise ValueError(f"inputs must have shape ({rows}, 1, 28, 28), got {self.inputs.shape}")
        if self.has_ink.shape != (rows,):
            raise ValueError(f"has_ink must have shape ({rows},), got {self.has_ink.shape}")


@dataclass(frozen=True)
class PuzzleResult:
    """Everything read from one image: the grid, the digits and the solution.

    On video, `track_id` names the tracked grid the result belongs to: stable while the grid
    stays in view, new when a grid comes (back) into view. None for a still image.
    """

    detection: GridDetection | None
    reading: Reading | None
    solution: np.ndarray | None = None  # int8 (81,) or None when unsolvable / not found
    status: Status = Status.NOT_FOUND  # a plain value such as "pending" is turned into one
    doubtful: tuple[int, ...] = ()  # cells read with low confidence or left in conflict
    changed: tuple[int, ...] = ()  # cells the solver check changed to a consistent reading
    # Cells whose evidence over frames is still undecided ("pending" results from the
    # stabiliser): they read 0 in `reading` and must not be shown as either empty or a digit.
    undecided: tuple[int, ...] = ()
    track_id: int | None = None

    def __post_init__(self) -> None:
        # Status("nonsense") raises ValueError, naming the value, where the result is made.
        object.__setattr__(self, "status", Status(self.status))

    @property
    def found(self) -> bool:
        """Whether a grid was found."""
        return self.detection is not None
