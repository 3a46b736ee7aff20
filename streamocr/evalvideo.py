"""Scoring a video run against per-frame truth: right readings, false grids, delay, flicker.

The truth says, per frame, where the grid's corners lie (clockwise from the puzzle's
top-left, or null when there is no grid), whether the whole grid is in view, and its
givens; the run gives the JSON-lines records of `streamocr run`. Both are plain values
here: reading files is the caller's business.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .geometry import quad_side
from .tracking import roll_to_match, visible_share


@dataclass(frozen=True)
class TruthFrame:
    """The truth of one frame.

    Attributes:
        corners: float (4, 2) clockwise from the puzzle's top-left, or None: no grid.
        in_view: whether the whole grid lies inside the frame.
        digits: the 81 givens ('0' empty), or None.
        puzzle: which puzzle this is (a change of puzzle is a new appearance), or None.
        readable: whether the footage can be read at all; where not, nothing may be shown.
        smear_cells: how far the grid moves while the shutter is open, in cells (its motion
            blur; 0 where the truth does not say how long the shutter is open).
    """

    corners: np.ndarray | None
    in_view: bool
    digits: str | None
    puzzle: int | None = 0
    readable: bool = True
    smear_cells: float = 0.0


# Motion blur below which a frame counts as steady: a digit's strokes smeared by a quarter of
# a cell are still read by eye; a whip pan smears footage by half a cell to several cells.
STEADY_SMEAR_CELLS = 0.25


@dataclass(frozen=True)
class VideoTruth:
    """The truth of a clip, frame by frame, with the frame size."""

    frames: tuple[TruthFrame, ...]
    size: tuple[int, int]

    @classmethod
    def from_json(cls, data: dict) -> VideoTruth:
        """Build from the JSON written by the clip builder (streamocr.synth.clips).

        Raises:
            ValueError: the data is not in that format (the message says what is wrong).
        """
        if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
            raise ValueError("truth must be an object with a 'frames' list")
        size = data.get("size")
        if not (isinstance(size, list) and len(size) == 2):
            raise ValueError(f"truth 'size' must be [width, height], got {size!r}")
        default_digits = data.get("digits")
        default_readable = data.get("readable", True)
        all_corners = []
        for i, item in enumerate(data["frames"]):
            corners = item.get("corners")
            if corners is not None:
                corners = np.asarray(corners, np.float64)
                if corners.shape != (4, 2):
                    raise ValueError(
                        f"truth frame {i}: corners must have shape (4, 2), got {corners.shape}"
                    )
            all_corners.append(corners)
        spec = data.get("spec")
        exposure = spec.get("exposure", 0.0) if isinstance(spec, dict) else 0.0
        smears = _smears(all_corners, float(exposure or 0.0))
        frames = []
        for i, (item, corners) in enumerate(zip(data["frames"], all_corners, strict=True)):
            digits = item.get("digits", default_digits) if corners is not None else None
            if digits is not None and len(digits) != 81:
                raise ValueError(f"truth frame {i}: digits must be 81 characters")
            frames.append(
                TruthFrame(
                    corners,
                    bool(item.get("in_view", False)) and corners is not None,
                    digits,
                    item.get("puzzle", 0) if corners is not None else None,
                    bool(item.get("readable", default_readable)),
                    smears[i],
                )
            )
        return cls(tuple(frames), (int(size[0]), int(size[1])))


def _smears(corners: list[np.ndarray | None], exposure: float) -> list[float]:
    """Per frame, the grid's motion blur in cells: the share of the frame time the shutter is
    open (`exposure`, from the footage generator's spec) times the corners' largest motion
    to the neighbouring frames, over the cell size. `corners`: each frame's (4, 2) corners,
    or None where it has no grid."""
    smears = []
    for i, here in enumerate(corners):
        if not exposure or here is None:
            smears.append(0.0)
            continue
        moves = [
            float(np.abs(there - here).max())
            for there in (
                corners[i - 1] if i else None,
                corners[i + 1] if i + 1 < len(corners) else None,
            )
            if there is not None
        ]
        cell = float(np.linalg.norm(here[0] - here[2])) / np.sqrt(2) / 9
        smears.append(exposure * max(moves, default=0.0) / max(cell, 1e-6))
    return smears


@dataclass(frozen=True)
class VideoScore:
    """How a run did against the truth.

    Attributes:
        frames: frames scored.
        in_view_frames: frames with a whole grid in view.
        right_frames: of those, frames whose shown reading is fully right.
        no_grid_frames: frames with no part of any grid in view.
        false_grid_frames: of those, frames where a grid was reported.
        appearances: times a puzzle came (whole) into view.
        acquisition_frames: per appearance, frames until its reading was shown right (None:
            never, while it stayed in view).
        flicker: a shown reading replaced by another, or vanishing and then shown again,
            while the same puzzle stayed in view (a reading that vanishes for good before
            the puzzle leaves the view costs right frames, not flicker).
        wrong_frames: frames showing a reading that is not the puzzle's (in or partly in
            view), or any reading with no puzzle there: the overlay lying.
        misplaced_frames: frames drawing a reading on an outline more than half a cell
            from the puzzle's (in or partly in view): its digits land in other cells, or
            off the page, even when they are the puzzle's. Counted apart from
            `wrong_frames`, which judges the digits alone.
        corner_error_px: mean distance of the shown corners from the true ones (in the
            corner order that fits best: the reading's orientation is scored by the digits).
        jitter_px: mean frame-to-frame change of that corner error (motion of the outline
            not explained by the page's own motion).
    """

    frames: int
    in_view_frames: int
    right_frames: int
    no_grid_frames: int
    false_grid_frames: int
    appearances: int
    acquisition_frames: tuple[int | None, ...]
    flicker: int
    corner_error_px: float | None
    jitter_px: float | None
    wrong_frames: int = 0
    partial_wrong_frames: int = 0
    misplaced_frames: int = 0
    unreadable_frames: int = 0
    unreadable_shown_frames: int = 0
    steady_in_view_frames: int = 0
    steady_right_frames: int = 0

    @property
    def right_share(self) -> float | None:
        """Share of in-view frames read fully right."""
        return self.right_frames / self.in_view_frames if self.in_view_frames else None

    @property
    def steady_right_share(self) -> float | None:
        """Share of steady in-view frames (motion blur under `STEADY_SMEAR_CELLS`) read fully
        right."""
        if not self.steady_in_view_frames:
            return None
        return self.steady_right_frames / self.steady_in_view_frames

    def summary(self) -> dict:
        """The score as a JSON-ready dict."""
        out = asdict(self)
        out["acquisition_frames"] = list(self.acquisition_frames)
        out["right_share"] = self.right_share
        out["steady_right_share"] = self.steady_right_share
        return out

    def lines(self) -> list[str]:
        """A human summary, one metric a line."""
        share = self.right_share
        right = "n/a" if share is None else f"{100 * share:.1f}%"
        acq = ", ".join("never" if a is None else str(a) for a in self.acquisition_frames)

        def px(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2f} px"

        return [
            f"frames: {self.frames}, whole grid in view: {self.in_view_frames}, "
            f"no grid in view: {self.no_grid_frames}",
            f"read fully right: {self.right_frames}/{self.in_view_frames} in-view frames ({right})",
            f"read fully right while steady (motion blur under {STEADY_SMEAR_CELLS} cell): "
            f"{self.steady_right_frames}/{self.steady_in_view_frames} in-view frames",
            f"grid reported with none in view: {self.false_grid_frames} frames",
            f"acquisition delay (frames) per appearance: {acq or 'none'}",
            f"flicker (shown reading changed, or vanished and came back, same puzzle "
            f"in view): {self.flicker}",
            f"wrong reading shown: {self.wrong_frames} frames "
            f"({self.partial_wrong_frames} with the grid partly out of view)",
            f"reading drawn over half a cell from the grid: {self.misplaced_frames} frames",
            f"reading shown on unreadable footage: {self.unreadable_shown_frames} of "
            f"{self.unreadable_frames} frames",
            f"corner error: {px(self.corner_error_px)}, jitter: {px(self.jitter_px)}",
        ]


def _drawn_outlines(record: dict) -> list[np.ndarray]:
    """The outlines of a record's grids that carry a reading (digits drawn on them)."""
    grids = record.get("grids") or [record]
    return [
        np.asarray(g["corners"], np.float64)
        for g in grids
        if g.get("digits") is not None and g.get("corners") is not None
    ]


def _misplaced(outline: np.ndarray, truth: np.ndarray) -> bool:
    """Whether an outline lies over half a cell from the true one (best corner order)."""
    _, error = roll_to_match(outline, truth)
    return error > 0.5 * quad_side(truth) / 9


def _reported_corners(record: dict) -> np.ndarray | None:
    corners = record.get("corners")
    if not record.get("found") or corners is None:
        return None
    return np.asarray(corners, np.float64)


def score_video(records: list[dict], truth: VideoTruth) -> VideoScore:
    """Score a run's per-frame records (the `run --jsonl` format) against the truth.

    Records are matched to truth frames by their ``frame`` index; a frame without a record
    (dropped) counts as showing nothing.
    """
    by_frame = {int(r["frame"]): r for r in records}
    width, height = truth.size
    in_view = right = no_grid = false_grid = flicker = wrong = partial_wrong = misplaced = 0
    unreadable = unreadable_shown = steady = steady_right = 0
    acquisitions: list[int | None] = []
    errors: list[float] = []
    jitters: list[float] = []
    run_start: int | None = None  # first frame of the current appearance
    run_puzzle: int | None = None
    run_acquired = False
    last_shown: str | None = None  # the last reading shown in this appearance
    vanished = False  # whether it has vanished since
    prev_offset: np.ndarray | None = None
    for i, frame in enumerate(truth.frames):
        record = by_frame.get(i, {})
        shown = record.get("digits")
        corners = _reported_corners(record)
        present = frame.corners is not None and visible_share(frame.corners, width, height) > 0
        is_wrong = shown is not None and (not present or shown != frame.digits)
        wrong += is_wrong
        partial_wrong += is_wrong and present and not frame.in_view
        if present:
            truth_corners = np.asarray(frame.corners, np.float64)
            misplaced += any(_misplaced(o, truth_corners) for o in _drawn_outlines(record))
        if not frame.readable:
            unreadable += 1
            unreadable_shown += shown is not None
        if not present:
            no_grid += 1
            false_grid += corners is not None
        if not frame.in_view:
            if run_start is not None and not run_acquired:
                acquisitions.append(None)
            run_start, run_puzzle, run_acquired = None, None, False
            last_shown, vanished, prev_offset = None, False, None
            continue
        in_view += 1
        is_right = shown is not None and shown == frame.digits
        right += is_right
        if frame.smear_cells < STEADY_SMEAR_CELLS:
            steady += 1
            steady_right += is_right
        if run_start is None or frame.puzzle != run_puzzle:
            if run_start is not None and not run_acquired:
                acquisitions.append(None)
            run_start, run_puzzle, run_acquired = i, frame.puzzle, False
            last_shown, vanished = None, False
        if is_right and not run_acquired:
            acquisitions.append(i - run_start)
            run_acquired = True
        if shown is None:
            vanished = last_shown is not None
        else:
            flicker += last_shown is not None and (vanished or shown != last_shown)
            last_shown, vanished = shown, False
        if corners is not None and corners.shape == (4, 2):
            # The outline's placement, whichever corner the truth starts from (a clip of a
            # page photographed upside down lists them from the photo's top-left).
            offset = min(
                (np.roll(corners, k, axis=0) - frame.corners for k in range(4)),
                key=lambda o: float(np.linalg.norm(o, axis=1).mean()),
            )
            errors.append(float(np.linalg.norm(offset, axis=1).mean()))
            if prev_offset is not None:
                jitters.append(float(np.linalg.norm(offset - prev_offset, axis=1).mean()))
            prev_offset = offset
        else:
            prev_offset = None
    if run_start is not None and not run_acquired:
        acquisitions.append(None)
    return VideoScore(
        frames=len(truth.frames),
        in_view_frames=in_view,
        right_frames=right,
        no_grid_frames=no_grid,
        false_grid_frames=false_grid,
        appearances=len(acquisitions),
        acquisition_frames=tuple(acquisitions),
        flicker=flicker,
        corner_error_px=float(np.mean(errors)) if errors else None,
        jitter_px=float(np.mean(jitters)) if jitters else None,
        wrong_frames=wrong,
        partial_wrong_frames=partial_wrong,
        misplaced_frames=misplaced,
        unreadable_frames=unreadable,
        unreadable_shown_frames=unreadable_shown,
        steady_in_view_frames=steady,
        steady_right_frames=steady_right,
    )
