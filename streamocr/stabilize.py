"""Evidence over frames: per-cell confirmation with hysteresis, orientation, board identity.

A *board* is what is known of the puzzle on one tracked grid. Each recognised frame adds
the model's log-probabilities of every visible cell to a decayed per-class sum; a cell's
class is shown once it leads clearly (`confirm_margin`) and gives way only to a clear lead
of another class (`retract_margin`), so single misread frames never reach the screen and
the shown reading changes only when the evidence does. Cells still undecided are not
shown; the puzzle is solved once per fully confirmed reading (and the answer kept), not per
frame.

The orientation (which corner is the puzzle's top-left) is decided from the digits while
the board is acquired, then locked for the life of the board. A board whose confirmed
cells are clearly contradicted by several frames in a row is a different puzzle (a new
page under the same outline): its evidence is reset. When the tracker drops a grid, its
board goes with it, and the overlay at once.

Nothing here knows of threads, queues or files: `Stabilizer.update` takes the grids of one
frame and returns what to show for them.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from .config import StabilizeSettings
from .consistency import (
    CheckedReading,
    ambiguous_cell,
    check_reading,
    passes_otherwise,
    passes_with,
    uniquely_solvable,
    valid_unique,
)
from .orientation import orientation_score, rotate_detection, rotation_rows, turn_cells
from .solve import solve
from .types import DIGIT_CLASSES, GridDetection, PuzzleResult, Reading

UNDECIDED = -1  # the shown class of a cell whose evidence is not yet conclusive
_SURE_DIGIT = 0.7  # a cell once read as a digit this surely is never settled as empty
_RIVAL_READ = 0.5  # a class read this surely in some frame was that frame's reading
_RIDE_ALONG = 0.5  # an unsure cell confirmed by the solver is read at least this surely
_REMEMBERED_PUZZLES = 8  # confirmed puzzles of lost grids kept for recall
_SETTLE_JOINT = 3  # cells settled together: their leading classes checked in combination
_CONTENDER = 0.25  # ... those read this surely in some frame (empty: among the two leading)
_SETTLE_LEAD = 2.0  # nats a leading digit leads its runner-up by, for the rules to settle it early
_SETTLE_OVERRULE = 4.0  # nats of lead on the evidence the rules may not overrule in a cell


@dataclass(frozen=True)
class GridObservation:
    """One tracked grid in one frame, with the model's view of its cells when it ran.

    Attributes:
        track_id: the tracker's id of the grid; a new id is a new board.
        detection: the grid's corners in the track's fixed order.
        probabilities: float32 (R * 81, 10) for R rotations of the cells (as cut by
            `SudokuReader.extract_at`), or None when the cells were not recognised.
        has_ink: bool (R * 81,) whether each cell holds ink, or None with `probabilities`.
        rotations: R, 1 (the track's order is upright) or 4.
        visible: bool (81,) cells wholly inside the frame, in the track's order; cells
            outside add no evidence. None: all visible.
        established: whether the tracker trusts the grid enough for it to be shown.
        faint_ink: bool (R * 81,) cells without ink still dark in their middle
            (`types.CellBatch.faint_ink`): such a frame says nothing of them. None: none.
        in_doubt: the tracker doubts the grid is where its outline lies
            (`tracking.TrackedGrid.in_doubt`): nothing is shown, and its cells, which may
            be cut off the page, add no evidence.
    """

    track_id: int
    detection: GridDetection
    probabilities: np.ndarray | None = field(default=None, repr=False)
    has_ink: np.ndarray | None = field(default=None, repr=False)
    rotations: int = 1
    visible: np.ndarray | None = field(default=None, repr=False)
    established: bool = True
    in_doubt: bool = False
    faint_ink: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.rotations not in (1, 4):
            raise ValueError(f"rotations must be 1 or 4, got {self.rotations}")
        if self.probabilities is not None:
            rows = self.rotations * 81
            if self.probabilities.shape != (rows, DIGIT_CLASSES):
                raise ValueError(
                    f"probabilities must have shape ({rows}, {DIGIT_CLASSES}), "
                    f"got {self.probabilities.shape}"
                )
            if self.has_ink is None or self.has_ink.shape != (rows,):
                shape = None if self.has_ink is None else self.has_ink.shape
                raise ValueError(f"has_ink must have shape ({rows},), got {shape}")
        if self.visible is not None and self.visible.shape != (81,):
            raise ValueError(f"visible must have shape (81,), got {self.visible.shape}")


def _tally_recall(
    tally: dict[tuple[bytes, int], tuple[np.ndarray, bool]],
    key: bytes,
    readings: dict[int, tuple],
    digits: np.ndarray,
    min_cells: int,
) -> int | None:
    """The orientation in which a returning grid reads as `digits`, a remembered puzzle, or
    None.

    One frame's clear readings (`Board.clear_readings`) are added to the grid's tally
    against the puzzle: per orientation, the cells read clearly as its digit so far, and
    whether any frame read a cell clearly as another. An orientation qualifies when this
    frame alone reads `min_cells` digits clearly and all as remembered, or when the tally
    does with no frame ever disagreeing; the one with the most agreeing cells is returned.
    """
    best, best_agree = None, 0
    for k, (read, clear) in readings.items():
        here = clear & (read == digits)
        wrong = bool((read[clear] != digits[clear]).any())
        agree, contradicted = tally.get((key, k), (np.zeros(81, bool), False))
        agree, contradicted = agree | here, contradicted or wrong
        tally[(key, k)] = (agree, contradicted)
        for count, ok in ((int(here.sum()), not wrong), (int(agree.sum()), not contradicted)):
            if ok and count >= max(best_agree + 1, min_cells):
                best, best_agree = k, count
    return best


class CellEvidence:
    """The decayed evidence of the 81 cells of one orientation and the class each shows.

    Args:
        settings: decay, floor and the confirm / retract margins.
    """

    def __init__(self, settings: StabilizeSettings) -> None:
        self.settings = settings
        self.evidence = np.zeros((81, DIGIT_CLASSES), np.float64)
        self.shown = np.full(81, UNDECIDED, np.int8)
        self.frames = 0
        self.seen = np.zeros(81, np.int32)  # frames each cell was visible in
        self.reads = np.zeros((81, DIGIT_CLASSES), np.int32)  # frames read as each, p >= 0.5
        self.peaks = np.zeros((81, DIGIT_CLASSES), np.float32)  # surest reading per class
        self._settle_tried: tuple | None = None

    @property
    def decided(self) -> np.ndarray:
        """bool (81,): cells whose class is confirmed."""
        return self.shown != UNDECIDED

    def add(self, probabilities: np.ndarray, visible: np.ndarray) -> None:
        """Add one frame's probabilities (81, 10) of the `visible` cells and re-decide."""
        s = self.settings
        self.peaks[visible] = np.maximum(self.peaks[visible], probabilities[visible])
        logp = np.log(np.clip(probabilities, np.exp(s.log_floor), 1.0))
        self.evidence[visible] = s.decay * self.evidence[visible] + logp[visible]
        self.frames += 1
        self.seen += visible
        top = probabilities.argmax(axis=1)
        read = visible & (probabilities.max(axis=1) >= _RIVAL_READ)
        self.reads[np.flatnonzero(read), top[read]] += 1
        order = np.argsort(-self.evidence, axis=1)
        rows = np.arange(81)
        best, second = order[:, 0], order[:, 1]
        lead = self.evidence[rows, best] - self.evidence[rows, second]
        confirmed = lead >= s.confirm_margin
        undecided = self.shown == UNDECIDED
        self.shown[undecided & confirmed] = best[undecided & confirmed]
        shown = self.shown.astype(np.int64)
        against = self.evidence[rows, best] - self.evidence[rows, np.maximum(shown, 0)]
        retract = ~undecided & (best != shown) & (against >= s.retract_margin)
        if not retract.any():
            return
        before = self.shown.copy()
        self.shown[retract & confirmed] = best[retract & confirmed]
        self.shown[retract & ~confirmed] = UNDECIDED
        # A printed Sudoku has exactly one solution. A retraction that would turn a reading
        # with one solution into one with none or many is a misread frame run (blur, glare
        # hiding a digit), not a change on the page: the reading shown stays. A different
        # puzzle is noticed by the board, which starts afresh.
        if (before != UNDECIDED).all() and uniquely_solvable(before):
            if not ((self.shown != UNDECIDED).all() and uniquely_solvable(self.shown)):
                self.shown = before

    def confirm_if_solvable(
        self, probabilities: np.ndarray, visible: np.ndarray, ink: np.ndarray
    ) -> None:
        """Confirm every cell at once from one frame the solver vouches for.

        A frame in which all 81 cells are visible, each read with at least
        `fast_confirm_prob`, and whose reading has exactly one solution, is independent
        evidence that the reading is right: its undecided cells are confirmed without
        waiting for more frames, where the accumulated evidence agrees with it, no earlier
        frame read another digit in them and this frame's runner-up is far behind.
        """
        s = self.settings
        if self.decided.all() or s.fast_confirm_prob >= 1 or not visible.all():
            return
        digits = probabilities.argmax(axis=1)
        # Ink the model calls empty must be called so clearly: it may be a faint given in
        # a dim frame, without which the puzzle often still has exactly one solution.
        top = probabilities.max(axis=1)
        unsure = (top < s.fast_confirm_prob) | (ink & (digits == 0) & (top < s.contradict_prob))
        # A few unsure cells may ride along when they read as digits, each more likely than
        # all its other readings together: a misread digit almost always breaks a rule (a
        # blurred 9 read as a 5 at p = 0.49 may not); an unsure "empty" could hide a given.
        if (
            unsure.sum() > s.fast_confirm_unsure
            or np.any(digits[unsure] == 0)
            or np.any(top[unsure] < _RIDE_ALONG)
        ):
            return
        leading = self.evidence.argmax(axis=1)
        undecided = ~self.decided
        if np.any(leading[undecided] != digits[undecided]):
            return
        # A cell another digit was read in (as the top class) in an earlier frame, or one
        # whose runner-up this frame is half as likely as its reading, is contested: a
        # misread given may still leave a puzzle with one solution (a 7 read as a 1 that
        # clashes with nothing), so the rules cannot vouch for it.
        runner_up = np.sort(probabilities, axis=1)[:, -2]
        if np.any(runner_up[undecided] >= 0.5 * top[undecided]):
            return
        cells, classes = np.flatnonzero(undecided), digits[undecided]
        rivals = self._rivals(cells)
        rivals[np.flatnonzero(classes), classes[classes > 0] - 1] = False  # not its own
        if rivals.any():
            return
        result = solve(digits.astype(np.int8), check_unique=True, max_steps=20_000)
        if result.status == "solved" and result.unique:
            self.shown[undecided] = digits[undecided]

    def _rivals(self, cells: np.ndarray | int, within: float | None = None) -> np.ndarray:
        """bool (len(cells), 9), per digit 1..9: read in the cell in some frame (as its top
        class), or, given `within`, that many nats or less behind its leading digit's
        evidence."""
        cells = np.atleast_1d(cells)
        rivals = self.peaks[cells, 1:] >= _RIVAL_READ
        if within is not None:
            evidence = self.evidence[cells, 1:]
            rivals |= evidence >= evidence.max(axis=1, keepdims=True) - within
        return rivals

    def settle_by_solver(self) -> None:
        """Decide the last few undecided cells by the rules of Sudoku.

        A cell whose frames keep wavering between two readings (a blurred 1 or 7, say)
        may never build a clear lead. When at most `settle_max_cells` such cells remain
        after `settle_after_frames` frames, the combinations of their leading classes are
        tried, most likely first; the first that makes a reading with exactly one solution
        is confirmed. A lone undecided cell may take any of its four leading classes (a
        faint given the model reads as one of several digits), two cells three each, more
        cells two each. Sooner, from the second frame, and for up to twice as many cells,
        only the leading digit of each is tried (a page read unsurely but rightly), where
        each leads its runner-up by `_SETTLE_LEAD` nats. Cells settled together are settled
        only if no other combination of the classes each may really hold (`_contenders`)
        passes as well, and no cell is settled against a lead of `_SETTLE_OVERRULE` nats
        on the evidence.

        Whether a cell is empty the rules often cannot tell: a given read as empty may
        leave exactly one solution, and so does an empty cell read as its solution's
        digit. A choice that would pass as well with a cell wavering with empty turned the
        other way is not made (the evidence decides), unless it is a digit whose evidence
        leads empty's by `settle_empty_margin`, or empty for a cell with empty among its
        two leading classes, seen in twice `settle_after_frames` frames and never read as
        a digit surely (p >= 0.7). Likewise a digit is not chosen where another digit,
        read in some frame (as its top class) or within `settle_empty_margin` of it on the
        evidence, would pass too: a misread given may leave exactly one solution. A
        combination already tried is not tried again.
        """
        s = self.settings
        undecided = np.flatnonzero(~self.decided)
        if undecided.size == 0 or self.frames < 2:
            return
        # A cell never (or hardly) seen, outside the frame, has no evidence to choose by:
        # its classes tie, and "empty" would come first. Unknown is not empty.
        if np.any(self.seen[undecided] < 2):
            return
        order = np.argsort(-self.evidence[undecided], axis=1)
        if undecided.size <= s.settle_max_cells and self.frames >= s.settle_after_frames:
            width = {1: 4, 2: 3}.get(undecided.size, 2)
        elif undecided.size <= 2 * s.settle_max_cells and not np.any(order[:, 0] == 0):
            # Only the leading digit of each, and only where each leads its runner-up:
            # a cell wavering between two digits may be misread, and two such misreads
            # together may leave one solution (a 2 read as a 3 beside a 2 read as a 1).
            rows = np.arange(undecided.size)
            evidence = self.evidence[undecided]
            lead = evidence[rows, order[:, 0]] - evidence[rows, order[:, 1]]
            if np.any(lead < _SETTLE_LEAD):
                return
            width = 1
        else:
            return
        leading = order[:, :width]
        # A try is made again only when something it hangs on has changed: the cells and
        # their leading classes, a cell becoming long seen (empty becomes a choice), a
        # digit's lead over empty passing the margin, another digit read in a cell.
        late = self.frames >= 2 * s.settle_after_frames
        clears_empty = self.evidence[undecided].max(axis=1) - self.evidence[undecided, 0]
        key = (
            tuple(undecided),
            tuple(leading.ravel()),
            tuple(self.shown),
            late,
            tuple(clears_empty >= s.settle_empty_margin),
            tuple(self._rivals(undecided, s.settle_empty_margin).sum(axis=1)),
        )
        if key == self._settle_tried:
            return
        self._settle_tried = key
        combos = []
        for choice in itertools.product(range(width), repeat=undecided.size):
            classes = leading[np.arange(undecided.size), choice]
            combos.append((-float(self.evidence[undecided, classes].sum()), classes))
        combos.sort(key=lambda c: c[0])
        base = self.shown.astype(np.int64)
        for _, classes in combos:
            digits = base.copy()
            digits[undecided] = classes
            if not valid_unique(digits):
                continue
            for i, cell in enumerate(undecided):
                # The rules overruling a clear lead on the evidence: more likely a
                # confirmed cell misread (an 8 read as a 3 over a run of frames) forcing a
                # second misread than the evidence wrong where it is clear.
                overruled = self.evidence[cell, order[i, 0]] - self.evidence[cell, classes[i]]
                if overruled >= _SETTLE_OVERRULE:
                    return
                if classes[i] == 0:
                    # Its solution's digit would pass too: empty only for a cell wavering
                    # with empty, long seen and never read as a digit surely (a mark in
                    # an empty cell, not a faint given).
                    if (
                        0 not in order[i, :2]
                        or not late
                        or self.peaks[cell, 1:].max() >= _SURE_DIGIT
                    ):
                        return
                    continue
                # Another digit read in some frame, or close behind on the evidence, that
                # would pass too: the rules cannot choose between them; the evidence decides.
                rivals = np.flatnonzero(self._rivals(cell, s.settle_empty_margin)[0]) + 1
                if any(passes_with(digits, cell, r) for r in rivals if r != classes[i]):
                    return
                # A digit for a cell wavering with empty (empty among its two leading
                # classes): if empty would pass too, the rules decide nothing unless the
                # evidence clearly favours the digit.
                if 0 not in order[i, :2]:
                    continue
                lead = self.evidence[cell, classes[i]] - self.evidence[cell, 0]
                if lead < s.settle_empty_margin and passes_with(digits, cell, 0):
                    return
            # The checks above vary one cell at a time. Several cells settled together
            # could be two misreads that together leave one solution (a blurred page: an
            # 8 set aside for the 6 the rules then need, with a 2 read as a 1; or two
            # givens each led by a wrong digit, a 2 as a 3 and a 2 as a 1, where neither
            # right digit passes alone beside the other's misread): no other combination
            # of what they may hold may pass.
            if undecided.size > 1:
                if passes_otherwise(digits, undecided, self._contenders(undecided, order)):
                    return
            self.shown[undecided] = classes
            return

    def _contenders(self, cells: np.ndarray, order: np.ndarray) -> list[list[int]]:
        """Per cell, the classes among its `_SETTLE_JOINT` leading ones (`order`: classes by
        evidence, a row per cell) it may really hold: its leader, a digit read with
        p >= `_CONTENDER` in some frame or within `settle_empty_margin` of the leading
        digit on the evidence, empty when it is one of the two leading and the leader's
        lead over it is under `settle_empty_margin` (the single-cell rule's own test)."""
        margin = self.settings.settle_empty_margin
        close = self._rivals(cells, margin)
        out = []
        for cell, row, near in zip(cells, order, close, strict=True):
            keep = [int(row[0])]
            over_empty = self.evidence[cell, row[0]] - self.evidence[cell, 0]
            for rank, c in enumerate(row[1:_SETTLE_JOINT], start=1):
                digit = c != 0 and (self.peaks[cell, c] >= _CONTENDER or near[c - 1])
                if digit or (c == 0 and rank == 1 and over_empty < margin):
                    keep.append(int(c))
            out.append(keep)
        return out

    def ambiguous_cell(self, digits: np.ndarray, solution: np.ndarray) -> int | None:
        """A cell whose evidence does not rule out a reading of it that would pass too
        (`consistency.ambiguous_cell`): every other class within `vouch_margin` nats of the
        shown one on the evidence is tried, and an empty cell read as its solution's digit
        in a fifth of its frames counts as close too. None: no such cell.
        """
        margin = self.settings.vouch_margin
        rows = np.arange(81)
        shown = digits.astype(np.int64)
        close = self.evidence >= (self.evidence[rows, shown] - margin)[:, None]
        # An empty cell read as its solution's digit (its top class, p >= 0.5) in a fifth of
        # its frames, two at least, is likely a given lost in the others (a thin stroke cut
        # away with the grid lines): a random misread is rarely just that digit.
        empty = np.flatnonzero(shown == 0)
        close[empty, solution[empty]] |= self._read_as(empty, solution[empty])
        close[rows, shown] = False
        return ambiguous_cell(shown, solution, close)

    def _read_as(self, cells: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """bool per cell: read as its class (top, p >= 0.5) in a fifth of its frames, two
        at least."""
        return self.reads[cells, classes] >= np.maximum(2, 0.2 * self.seen[cells])

    def contradictions(self, probabilities: np.ndarray, visible: np.ndarray) -> int:
        """Confirmed cells this frame clearly contradicts: new ink, or another digit.

        Ink vanishing from a confirmed digit is not counted: blur and glare do that.
        """
        read = probabilities.argmax(axis=1)
        clear = probabilities.max(axis=1) >= self.settings.contradict_prob
        shown = self.shown
        differs = self.decided & visible & clear & (read != 0) & (read != shown)
        return int(differs.sum())

    def class_probabilities(self) -> np.ndarray:
        """(81, 10) pseudo-probabilities: the softmax of the mean evidence per frame."""
        scale = max(1.0 - self.settings.decay, 0.05)
        z = self.evidence * scale
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


class Board:
    """What is known of the puzzle on one tracked grid: evidence per orientation.

    While the board is acquired the evidence of all orientations is kept; the one the digits
    favour is locked once its reading is fully confirmed.
    """

    def __init__(self, settings: StabilizeSettings, rotations: int) -> None:
        self.settings = settings
        self.rotations_seen = rotations
        self.orientations = [CellEvidence(settings) for _ in range(rotations)]
        self.orientation_scores = np.zeros(rotations, np.float64)
        self.locked: int | None = 0 if rotations == 1 else None
        self.contradicted_frames = 0
        self.complete_at: int | None = None  # frames seen when every cell was last decided
        self.vouched: bytes | None = None  # the last reading the evidence vouched for
        self.recalled_reading = False  # shows a puzzle remembered from a lost grid

    @property
    def complete_frames(self) -> int:
        """Recognised frames the reading has stood with every cell decided (0: not yet)."""
        if self.complete_at is None or not self.cells.decided.all():
            return 0
        return self.cells.frames - self.complete_at + 1

    def _note_complete(self) -> None:
        if not self.cells.decided.all():
            self.complete_at = None
        elif self.complete_at is None:
            self.complete_at = self.cells.frames

    @property
    def orientation(self) -> int:
        """Quarter turns from the track's corner order to the puzzle's upright order."""
        if self.locked is not None:
            return self.locked
        return int(np.argmax(self.orientation_scores))

    @property
    def cells(self) -> CellEvidence:
        """The evidence of the current orientation."""
        index = 0 if len(self.orientations) == 1 else self.orientation
        return self.orientations[index]

    def _views(self, observation: GridObservation) -> dict[int, tuple]:
        """(probabilities, ink, visible) of each orientation the observation carries.

        An observation of four rotations carries all; one of a single rotation carries
        the board's locked orientation (the pipeline cuts only that one once it is locked),
        its `visible` already turned to match.
        """
        visible = observation.visible if observation.visible is not None else np.ones(81, bool)
        if observation.rotations == 1:
            keys = [self.locked if self.locked is not None else 0]
        else:
            keys = list(range(4))
        views = {}
        for row, k in enumerate(keys):
            rows = rotation_rows(row)
            ink = observation.has_ink[rows]
            probs = observation.probabilities[rows].astype(np.float32).copy()
            # No ink found is weaker evidence than a digit read: blur, glare and a small,
            # tilted grid hide strokes, while nothing makes a clear digit appear.
            probs[~ink] = (1.0 - self.settings.no_ink_empty_prob) / 9
            probs[~ink, 0] = self.settings.no_ink_empty_prob
            if observation.faint_ink is not None:
                # No digit-like ink, yet dark in the middle: a faint or smeared digit the
                # ink test did not take as readily as an empty cell. Not evidence of
                # either: a given dropped this way often leaves a puzzle with one solution.
                probs[observation.faint_ink[rows]] = 1.0 / 10  # never an inked cell
            turned = visible
            if observation.rotations == 4:
                turned = turn_cells(visible, k)
            views[k] = (probs, ink, turned)
        return views

    @classmethod
    def recalled(
        cls, settings: StabilizeSettings, rotations: int, orientation: int, digits: np.ndarray
    ) -> Board:
        """A board locked at `orientation` that shows `digits`, a puzzle read before."""
        board = cls(settings, 1)
        board.rotations_seen = rotations
        board.locked = orientation
        board.cells.shown[:] = digits
        board.complete_at = 0
        board.vouched = board.cells.shown.tobytes()  # vouched for when it was first shown
        board.recalled_reading = True
        return board

    def clear_readings(self, observation: GridObservation) -> dict[int, tuple]:
        """Per orientation, (read, clear): each cell's class and whether it is a clear digit."""
        out = {}
        for k, (probs, _, turned) in self._views(observation).items():
            read = probs.argmax(axis=1)
            clear = turned & (read != 0) & (probs.max(axis=1) >= self.settings.contradict_prob)
            out[k] = (read, clear)
        return out

    def add(self, observation: GridObservation) -> bool:
        """Add one recognised frame; return False when it shows a different puzzle."""
        views = self._views(observation)
        probs, _, turned = views[self.orientation]
        if self.cells.contradictions(probs, turned) >= self.settings.reset_cells:
            self.contradicted_frames += 1
            if self.contradicted_frames >= self.settings.reset_frames:
                return False
        else:
            self.contradicted_frames = 0
        if self.locked is not None:
            probs, ink, turned = views[self.orientation]
            self.cells.add(probs, turned)
            self.cells.confirm_if_solvable(probs, turned, ink)
            self.cells.settle_by_solver()
            self._note_complete()
            return True
        for k, (probs, ink, turned) in views.items():
            self.orientation_scores[k] = self.settings.decay * self.orientation_scores[
                k
            ] + orientation_score(probs, ink & turned)
            self.orientations[k].add(probs, turned)
        best = self.orientation
        probs, ink, turned = views[best]
        self.orientations[best].confirm_if_solvable(probs, turned, ink)
        self.orientations[best].settle_by_solver()
        if self.orientations[best].decided.all() and self.orientations[best].frames >= 2:
            self.locked = best
            self.orientations = [self.orientations[best]]
        self._note_complete()
        return True


class Stabilizer:
    """Turns the per-frame readings of tracked grids into steady, confirmed results.

    Args:
        settings: the `[stabilize]` knobs.

    Example:
        >>> stabilizer = Stabilizer(StabilizeSettings())
        >>> results = stabilizer.update([GridObservation(0, detection, probs, ink, 4)])
    """

    def __init__(self, settings: StabilizeSettings | None = None) -> None:
        self.settings = settings or StabilizeSettings()
        self._boards: dict[int, Board] = {}
        self._solved: OrderedDict[str, CheckedReading] = OrderedDict()
        self.resets = 0  # boards reset because a different puzzle was seen
        self.solves = 0  # confirmed readings solved (once each)
        self.recalls = 0  # returning grids shown at once from a remembered reading
        self._clock = 0  # frames seen
        self._remembered: OrderedDict[bytes, tuple[np.ndarray, int]] = OrderedDict()
        # Per track being acquired, its frames' clear readings against each remembered
        # puzzle and orientation (`_recall`): the cells that agreed, whether any disagreed.
        self._recall_tally: dict[int, dict[tuple[bytes, int], tuple[np.ndarray, bool]]] = {}

    def reset(self) -> None:
        """Forget every board (and the recall evidence of the grids being acquired)."""
        self._boards.clear()
        self._recall_tally.clear()

    def locked_orientation(self, track_id: int) -> int | None:
        """Quarter turns of a tracked grid's cells once its board has locked them.

        After this, observations of the grid may carry that one rotation (rotations=1,
        `visible` turned to match) instead of all four. None while the board is unlocked,
        or in doubt (a frame contradicted it: maybe a new puzzle, to be turned afresh).
        """
        board = self._boards.get(track_id)
        if board is None or board.locked is None or board.rotations_seen != 4:
            return None
        if board.contradicted_frames:
            # Maybe a new puzzle, whose orientation is to be decided: all four rotations.
            return None
        return board.locked

    def update(self, observations: list[GridObservation]) -> list[PuzzleResult]:
        """Add one frame's grids; return what to show for each established one, largest first.

        A board whose grid is absent from `observations` is dropped.
        """
        self._clock += 1
        present = {o.track_id for o in observations}
        for track_id in list(self._boards):
            if track_id not in present:
                self._remember(self._boards.pop(track_id))
        for track_id in list(self._recall_tally):
            if track_id not in present:
                del self._recall_tally[track_id]
        results = []
        for observation in observations:
            board = self._boards.get(observation.track_id)
            if observation.probabilities is not None and not observation.in_doubt:
                rotations = observation.rotations
                if board is None or board.locked is None:
                    # A grid being acquired may be a puzzle seen a moment ago: its first
                    # frames may be too blurred (a page moving into view) to tell.
                    board = self._recall(observation) or board or Board(self.settings, rotations)
                else:
                    self._recall_tally.pop(observation.track_id, None)
                # A board still deciding its orientation needs all four rotations; cells
                # cut in one rotation only (that of a puzzle just replaced, in frames
                # recognised in the same batch) are of no use to it.
                if rotations == 4 or board.locked is not None:
                    if not board.add(observation):
                        self.resets += 1
                        # Kept for recall: the frames that reset it may have been cut
                        # amiss (a grid half out of view), not a new puzzle.
                        self._remember(board)
                        # The new puzzle's orientation is decided afresh, from the next
                        # frames (cut in all four rotations), not from this one's cells cut
                        # in the old puzzle's locked rotation.
                        board = Board(self.settings, board.rotations_seen)
                        if rotations == board.rotations_seen:
                            board.add(observation)
                self._boards[observation.track_id] = board
            # A grid not yet established (found by one search so far) is shown when its
            # cells read as a puzzle lost a moment ago (`_recall`): a dozen digits clearly
            # where that puzzle has them, none otherwise, is stronger evidence that the
            # outline is where the grid is than a second search finding it again.
            if observation.in_doubt:
                continue
            if observation.established or (board is not None and board.recalled_reading):
                result = self._result(observation.detection, board)
                results.append(replace(result, track_id=observation.track_id))
                if board is not None and board.contradicted_frames:
                    # The frame says this may be another puzzle: show nothing read until
                    # the next frames decide, rather than the old reading.
                    results[-1] = PuzzleResult(
                        results[-1].detection,
                        None,
                        status="pending",
                        undecided=tuple(range(81)),
                        track_id=observation.track_id,
                    )
        results.sort(key=lambda r: r.detection.area, reverse=True)
        return results

    def _remember(self, board: Board) -> None:
        """Keep the confirmed reading of a board whose grid was lost, for `_recall`."""
        s = self.settings
        cells = board.cells
        if s.recall_frames == 0 or board.locked is None or not cells.decided.all():
            return
        if not uniquely_solvable(cells.shown):
            return
        digits = cells.shown.copy()
        self._remembered[digits.tobytes()] = (digits, self._clock)
        self._remembered.move_to_end(digits.tobytes())
        while len(self._remembered) > _REMEMBERED_PUZZLES:
            self._remembered.popitem(last=False)

    def _recall(self, observation: GridObservation) -> Board | None:
        """A board for a grid being acquired that reads as a puzzle lost a moment ago.

        A puzzle that leaves the view and comes back gets a new track; its frames, until
        its board is confirmed, are compared with the readings remembered, newest first
        (`_tally_recall`): once one frame reads `recall_min_cells` of a remembered puzzle's
        digits clearly and none otherwise, or its frames together have (a page still moving
        into view reads a few digits a frame) with none of them ever reading a digit
        otherwise, the remembered reading is shown at once. Should later frames contradict
        it, the board is reset as usual. None while nothing qualifies.
        """
        if not self._remembered:
            return None
        readings = Board(self.settings, observation.rotations).clear_readings(observation)
        tally = self._recall_tally.setdefault(observation.track_id, {})
        for key in reversed(list(self._remembered)):
            digits, lost_at = self._remembered[key]
            if self._clock - lost_at > self.settings.recall_frames:
                del self._remembered[key]
                continue
            best = _tally_recall(tally, key, readings, digits, self.settings.recall_min_cells)
            if best is not None:
                self.recalls += 1
                del self._recall_tally[observation.track_id]
                return Board.recalled(self.settings, observation.rotations, best, digits)
        return None

    def _result(self, detection: GridDetection, board: Board | None) -> PuzzleResult:
        if board is None:
            return PuzzleResult(detection, None, status="pending", undecided=tuple(range(81)))
        detection = rotate_detection(detection, board.orientation)
        cells = board.cells
        if not cells.decided.all():
            digits = np.where(cells.decided, cells.shown, 0).astype(np.int8)
            probabilities = cells.class_probabilities()
            confidence = probabilities[np.arange(81), digits] * cells.decided
            reading = Reading(digits, confidence.astype(np.float32), probabilities)
            undecided = tuple(int(i) for i in np.flatnonzero(~cells.decided))
            return PuzzleResult(detection, reading, status="pending", undecided=undecided)
        checked = self._check(cells)
        if checked.result.status != "solved" and (
            not self.settings.show_unsolvable
            or board.complete_frames < self.settings.unsolvable_after_frames
        ):
            # No solution: nearly always a misread (never shown by default), or a grid cut
            # amiss as it came into view (shown, if asked for, only once it stands).
            return PuzzleResult(detection, None, status="pending", undecided=tuple(range(81)))
        if checked.result.status == "solved" and not self._vouched(board, checked):
            return PuzzleResult(detection, None, status="pending", undecided=tuple(range(81)))
        return PuzzleResult(
            detection=detection,
            reading=checked.reading,
            solution=checked.result.solution,
            status=checked.result.status,
            doubtful=checked.doubtful,
            changed=checked.changed,
        )

    def _vouched(self, board: Board, checked: CheckedReading) -> bool:
        """Whether a solved reading may be shown: exactly one solution, at most one cell
        changed by the solver's repair, and no single cell read otherwise on comparable
        evidence that would leave one solution too.

        Once vouched for, a reading stays shown while it stands (no flicker as the
        evidence ebbs and flows); a changed reading is judged afresh.
        """
        digits = checked.reading.digits
        key = digits.tobytes()
        if board.vouched == key:
            return True
        # A confirmed reading that needed several cells changed to solve holds several
        # misreads, and so may the repair: shown only once the evidence itself agrees.
        if len(checked.changed) > 1:
            return False
        if not uniquely_solvable(digits):
            return False
        if board.cells.ambiguous_cell(digits, checked.result.solution) is not None:
            return False
        board.vouched = key
        return True

    def _check(self, cells: CellEvidence) -> CheckedReading:
        """Solve a confirmed reading once; later frames with the same reading reuse it."""
        digits = cells.shown.astype(np.int8)
        key = "".join(str(int(d)) for d in digits)
        checked = self._solved.get(key)
        if checked is not None:
            self._solved.move_to_end(key)
            return checked
        probabilities = cells.class_probabilities()
        confidence = probabilities[np.arange(81), digits]
        checked = check_reading(Reading(digits, confidence, probabilities))
        self.solves += 1
        self._solved[key] = checked
        while len(self._solved) > self.settings.solve_cache:
            self._solved.popitem(last=False)
        return checked
