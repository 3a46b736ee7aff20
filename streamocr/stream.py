"""Reading one video stream frame by frame: the grid tracker, the cells, the model and the
stabiliser, with no threads.

`StreamReader` holds one stream's state (its tracker and its stabiliser, both used in frame
order) and shares the stateless stages of a `SudokuReader` (grid search, cell cutting, the
model). Its work on a frame comes in three steps, so a threaded pipeline can run them on
different threads and batch the model across frames (or across streams)::

    grids = stream.locate(image, index)        # grid search / tracking, cells cut
    stream.prepare(grids)                      # only the locked rotation of known boards
    recognize_grids(recognizer, grids)         # one model call for any number of grids
    results = stream.observe(grids)            # evidence over frames: what to show

`update(image)` does all of it for one frame, for programs with their own frame loop.

Example:
    >>> stream = StreamReader.from_config()
    >>> for image in frames:  # BGR uint8 arrays from any camera loop
    ...     for result in stream.update(image):
    ...         print(result.track_id, result.status)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .orientation import one_rotation, turn_cells
from .preprocess import ink_gray
from .reader import SudokuReader, interpret_cells
from .recognize import MIN_BATCH_CELLS, DigitRecognizer, recognize_inked
from .stabilize import GridObservation, Stabilizer
from .tracking import GridTracker
from .types import CellBatch, GridDetection, PuzzleResult
from .verify import OutlineVerifier, page_signature, same_page

if TYPE_CHECKING:
    from .config import Config, StabilizeSettings, TrackingSettings


class ResultFilter(Protocol):
    """The seam between recognition and overlay: one frame's grids in, what to show out.

    `Stabilizer` (evidence over frames, board identity) is the stateful filter; it runs on
    the recognition thread, in frame order. `PassThrough` shows each frame's own reading.
    """

    def update(self, observations: list[GridObservation]) -> list[PuzzleResult]:
        """Return the results to show for one frame's grids, largest first."""
        ...

    def locked_orientation(self, track_id: int) -> int | None:
        """The quarter turns decided for a tracked grid, or None while undecided."""
        ...


class PassThrough:
    """A `ResultFilter` that shows each frame's own reading (solved every frame)."""

    def update(self, observations: list[GridObservation]) -> list[PuzzleResult]:
        """Interpret each recognised grid on its own."""
        results = []
        for o in observations:
            if o.probabilities is None or o.has_ink is None:
                continue
            result = interpret_cells(o.detection, o.has_ink, o.rotations, o.probabilities)
            results.append(_with_track(result, o.track_id))
        return results

    def locked_orientation(self, track_id: int) -> int | None:
        """Each frame is read on its own: every orientation is tried every time."""
        return None


def _with_track(result: PuzzleResult, track_id: int) -> PuzzleResult:
    from dataclasses import replace

    return replace(result, track_id=track_id)


@dataclass
class GridWork:
    """One grid of one frame on its way from `locate` to `observe`."""

    track_id: int
    detection: GridDetection
    established: bool = True
    visible: np.ndarray | None = None
    cells: CellBatch | None = None
    in_doubt: bool = False  # `tracking.TrackedGrid.in_doubt`: nothing is drawn on it
    probabilities: np.ndarray | None = None
    # A cut left for `cut_cells` (`locate(..., cut=False)`): the frame's ink gray and where
    # the cells are cut.
    pending: tuple[np.ndarray, GridDetection] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SearchPlan:
    """Which coming frames get the full search if the tracker's state stays as it is after
    a frame (`StreamReader.search_plan`): every `every`-th frame from frame `start` on,
    and every `periodic`-th frame (counted from frame 0). A forecast: the frames in
    between may change the tracker's state, and the plan with it."""

    every: int = 0  # 0: none on this cadence
    start: int = 0
    periodic: int = 0  # 0: none

    def wants(self, index: int) -> bool:
        """Whether frame `index` is expected to get the full search."""
        if self.periodic and index % self.periodic == 0:
            return True
        return self.every > 0 and index >= self.start and (index - self.start) % self.every == 0


def recognize_grids(recognizer: DigitRecognizer, grids: list[GridWork]) -> int:
    """Run the inked cells of every grid in `grids` that has cells through the model in one
    call (`recognize.recognize_inked`: a cell without ink reads as empty), padded to a
    power of two of cells (16 at least), so the model session sees few shapes. Sets each
    grid's `probabilities` (one row per cell); returns the model calls made (0 or 1).
    """
    found = [grid.cells for grid in grids if grid.cells is not None]
    if not found:
        return 0
    pairs = [(cells.inputs, cells.has_ink) for cells in found]
    answers = iter(recognize_inked(recognizer, pairs, least=MIN_BATCH_CELLS))
    for grid in grids:
        if grid.cells is not None:
            grid.probabilities = next(answers)
    return int(any(cells.has_ink.any() for cells in found))


def _in_rotation(grid: GridWork, k: int) -> None:
    """Keep only rotation `k` of a grid's cells cut in all four, its visible cells turned
    to match."""
    assert grid.cells is not None
    grid.cells = one_rotation(grid.cells, k)
    if grid.visible is not None:
        grid.visible = turn_cells(grid.visible, k)


class BackgroundJob:
    """One kind of work on its own thread, one job at a time, at a lower CPU priority than
    the frames' threads (live sources: the full search, the periodic re-read of a confirmed
    board): the frame that asks for it does not wait; its answer is taken up by a later
    frame (`StreamReader`).

    A request while a job runs, or while its answer is not yet taken, is declined (the next
    frame that wants one asks again).
    """

    def __init__(self, work: Callable[..., Any], name: str = "streamocr-search") -> None:
        self._work = work
        self._lock = threading.Lock()
        self._request: tuple[Any, tuple[Any, ...]] | None = None
        self._answer: tuple[Any, Any] | None = None
        self._busy = False
        self._error: BaseException | None = None
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, tag: Any, *args: Any) -> bool:
        """Ask for `work(*args)` (arrays not changed afterwards), its answer to come back
        with `tag`; False when a job is already running or its answer not yet taken."""
        with self._lock:
            if self._busy or self._answer is not None or self._closed:
                return False
            self._busy = True
            self._request = (tag, args)
            self._wake.notify()
            return True

    def take(self) -> tuple[Any, Any] | None:
        """The finished job's tag and answer, once; None while none is done.

        Raises:
            The job's own error, if it failed.
        """
        with self._lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            answer, self._answer = self._answer, None
            return answer

    def close(self) -> None:
        """Stop the thread (a running job is finished first)."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        _yield_to_frames()
        while True:
            with self._lock:
                while self._request is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                assert self._request is not None
                tag, args = self._request
                self._request = None
            try:
                answer = self._work(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                with self._lock:
                    self._error, self._busy = exc, False
                continue
            with self._lock:
                self._answer, self._busy = (tag, answer), False


def _yield_to_frames(niceness: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux: a thread's own nice value), so that
    on a loaded machine the frames' threads go first; nothing where that is not possible."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


def _needed(image: np.ndarray | None) -> np.ndarray:
    """`StreamReader.locate`'s frame image, where it reads it."""
    if image is None:
        raise ValueError("locate needs the frame's image unless it tracks and has its gray")
    return image


class StreamReader:
    """One video stream's reader: the tracker and the stabiliser, frame by frame.

    Args:
        reader: the stateless stages (grid finder, cell cutting, model); may be shared by
            several streams.
        stabilize: evidence over frames (`[stabilize]`); None or disabled: no tracking,
            every frame is searched and read on its own (`PassThrough`).
        detect_every: run the full grid search every N frames while a grid is followed.
        result_filter: replaces the stabiliser (a `ResultFilter`).
        tracking: how grids are followed between frames (`[tracking]`; default: defaults).
        reread_every: a board whose reading is confirmed (its orientation locked) and whose
            page looks unchanged since it was last read (`verify.same_page`) has its cells
            cut and recognised only every N frames; any change is read at once. 1: every
            frame.
    """

    def __init__(
        self,
        reader: SudokuReader,
        stabilize: StabilizeSettings | None = None,
        detect_every: int = 1,
        result_filter: ResultFilter | None = None,
        tracking: TrackingSettings | None = None,
        reread_every: int = 1,
    ) -> None:
        from .config import TrackingSettings

        self.reader = reader
        self.reread_every = reread_every
        self._last_read: dict[int, tuple[int, np.ndarray]] = {}  # track: frame, signature
        self.stabilize = stabilize if stabilize is not None and stabilize.enabled else None
        self.tracking = tracking or TrackingSettings()
        self.detect_every = detect_every
        self.tracker: GridTracker | None = None
        if self.stabilize is not None:
            warp_size = 9 * reader.finder.settings.warp_cell_px
            self.tracker = GridTracker.from_settings(self.tracking, warp_size)
            # Between full searches each followed grid is checked where the flow put it.
            finder = reader.finder.settings
            self.tracker.verifier = OutlineVerifier(
                warp_size, finder.min_score, finder.min_line_score
            )
        if result_filter is None:
            result_filter = Stabilizer(self.stabilize) if self.stabilize else PassThrough()
        self.result_filter = result_filter
        self._frames = 0
        self._last_idle_search: int | None = None  # a search that found nothing, unfollowed
        self._last_search: int | None = None
        self._edge_searched = False  # the last search was for grids at the frame's edge
        self._background: BackgroundJob | None = None
        self._rereader: BackgroundJob | None = None  # `reread_in_background`

    @classmethod
    def from_config(
        cls, config: Config | None = None, reader: SudokuReader | None = None
    ) -> StreamReader:
        """The stream reader `streamocr run` uses, built from a configuration (default: the
        built-in defaults); pass `reader` to share its model between streams."""
        if config is None:
            from .config import Config

            config = Config()
        reader = reader or SudokuReader.from_config(config)
        pipeline = config.pipeline
        return cls(
            reader,
            config.stabilize,
            pipeline.detect_every,
            tracking=config.tracking,
            reread_every=pipeline.reread_every,
        )

    def locate(
        self,
        image: np.ndarray | None,
        index: int,
        cut: bool = True,
        gray: np.ndarray | None = None,
        searched: Future[list[GridDetection]] | None = None,
    ) -> list[GridWork]:
        """The grids of frame `index` (frames in order), with their cells cut where they are
        read this frame.

        Args:
            image: the frame (BGR); None where `gray` is given and the stream tracks
                grids, which then read the gray alone (a frame kept as decoded is then
                never converted to BGR: `types.Frame`).
            cut: False leaves the cutting to `cut_cells` (another thread: the pipeline's
                recognition stage), the grids to read carrying what it needs.
            gray: the frame's ink gray (`preprocess.ink_gray`), when already made (the
                pipeline makes it on the capture thread).
            searched: this frame's full search (`search` of its gray), started ahead of
                the tracker on another thread where `search_plan` expected the frame to
                want it: its answer is used if the frame gets the search (the search reads
                the frame alone, so the answer is the one the search in line would give);
                otherwise it is cancelled, if it has not started.
        """
        if self.tracker is None:
            batch = self.reader.extract(_needed(image))
            return [] if batch is None else [GridWork(0, batch.detection, cells=batch)]
        settings = self.stabilize
        assert settings is not None
        detections = None
        # Search while a new grid is being confirmed or a followed one failed its check, so
        # a grid is acquired at once; in between, optical flow follows each grid and the
        # tracker verifies it where the flow put it (see `_searches`).
        tracker = self.tracker
        # The ink gray once per frame: the search, the tracker and the cells all read it.
        if gray is None:
            gray = ink_gray(_needed(image))
        late = None
        if self._background is not None:
            late = self._background_search(index, gray)
        elif self._searches(index):
            self._edge_searched = tracker.needs_search and self._at_edge_only
            detections = self.search(gray) if searched is None else searched.result()
            self._last_search = index
            self._note_found(index, detections)
        if searched is not None and detections is None:
            searched.cancel()
        tracked = tracker.update(gray, detections, late=late)
        read = index % settings.recognize_every == 0
        grids = [
            GridWork(
                t.track_id,
                t.detection,
                t.established,
                t.visible,
                # A grid in doubt adds no evidence (`GridObservation.in_doubt`): not cut.
                pending=(gray, t.cut) if read and not t.in_doubt else None,
                in_doubt=t.in_doubt,
            )
            for t in tracked
        ]
        if cut:
            self.cut_cells(grids, index)
        return grids

    def search(self, gray: np.ndarray) -> list[GridDetection]:
        """The full grid search of one frame's ink gray (stateless: any thread)."""
        return self.reader.finder.detect_all(gray, self.tracking.max_grids)

    def search_plan(self, index: int) -> SearchPlan:
        """Which frames after frame `index` (the last one located) get the full search if
        the tracker's state stays as it is (a forecast of `_searches`)."""
        tracker = self.tracker
        if tracker is None or self._background is not None:
            return SearchPlan()
        edge = self.tracking.edge_search_every
        if not tracker.needs_search:
            # A search re-anchors a grid at the frame's edge, which fails its check again
            # on the next frame: the edge cadence goes on beside the periodic search.
            if self._edge_searched and self._last_search == index:
                return SearchPlan(edge, index + edge, self.detect_every)
            return SearchPlan(periodic=self.detect_every)
        if self._at_edge_only:
            last, every = self._last_search, edge
        else:
            last = None if tracker.tracking else self._last_idle_search
            every = self.tracking.idle_search_every
        if last is None:
            return SearchPlan(1, index + 1)
        return SearchPlan(every, max(last + every, index + 1))

    def cut_cells(self, grids: list[GridWork], index: int) -> None:
        """Cut the cells of frame `index`'s grids that `locate` marked to read, unless a
        confirmed, unchanged board skips this re-read (`_rereads`).

        The re-read decision reads the stabiliser's state, so it is taken here, frames in
        order, on the thread that calls `observe` (the pipeline's recognition stage when
        `locate(..., cut=False)` left the cutting to it): a file's outputs then do not
        depend on how far the tracker ran ahead.
        """
        followed = {grid.track_id for grid in grids}
        self._last_read = {k: v for k, v in self._last_read.items() if k in followed}
        for grid in grids:
            if grid.pending is None:
                continue
            gray, where = grid.pending
            grid.pending = None
            if self._rereads(gray, grid, where, index):
                grid.cells = self.reader.extract_at(gray, where)

    def search_in_background(self) -> None:
        """Run the full search on its own thread from now on (live sources: a frame's
        latency then excludes the search). Its answer is taken up by the first frame after
        it is done (`GridTracker.update`'s `late`). Outputs then depend on timing: files
        keep the search in line."""
        if self.tracker is None or self._background is not None:
            return
        self._background = BackgroundJob(self.search, "streamocr-search")

    def reread_in_background(self) -> None:
        """From now on, the periodic re-read of a confirmed board whose page looks unchanged
        (every `reread_every` frames) runs on its own thread at a lower priority (live
        sources: the frame that is due for it goes on without it, showing the confirmed
        reading, and a later frame of the same grid adds its evidence). Any change to the
        page is still read at once, in line. Outputs then depend on timing: files keep it in
        line."""
        if self.tracker is None or self._rereader is not None or self.reread_every <= 1:
            return
        self._rereader = BackgroundJob(self._reread, "streamocr-reread")

    def close(self) -> None:
        """Stop the background threads (search, re-read), if any."""
        for job in (self._background, self._rereader):
            if job is not None:
                job.close()
        self._background = self._rereader = None

    def _background_search(self, index: int, gray: np.ndarray) -> list[GridDetection] | None:
        """The grids a finished background search found in an earlier frame (None while
        none is done); asks for a new search when this frame wants one."""
        assert self._background is not None and self.tracker is not None
        late = None
        answer = self._background.take()
        if answer is not None:
            searched_at, late = answer
            self._note_found(searched_at, late)
        if self._searches(index) and self._background.submit(index, gray):
            self._last_search = index
        return late

    def _note_found(self, searched_at: int, found: list[GridDetection]) -> None:
        """Remember a search of frame `searched_at` that found nothing while nothing is
        followed (the idle cadence of `_searches`)."""
        assert self.tracker is not None
        idle = not found and not self.tracker.tracking
        self._last_idle_search = searched_at if idle else None

    @property
    def _at_edge_only(self) -> bool:
        """Whether the grids the tracker misses all reach the frame's edge and none is
        being acquired (the search's edge cadence)."""
        assert self.tracker is not None
        return self.tracker.missed_only_at_edge and not self.tracker.acquiring

    def _searches(self, index: int) -> bool:
        """Whether frame `index` gets the full search: every frame while a grid is being
        acquired or a followed one failed its check, every `edge_search_every` frames while
        the grids that failed it reach the frame's edge (flow carries them; the verifier
        cannot check them), every `detect_every` frames while grids are followed, every
        `idle_search_every` frames while nothing is there."""
        tracker = self.tracker
        assert tracker is not None
        if not tracker.needs_search:
            return index % self.detect_every == 0
        if self._at_edge_only:
            last = self._last_search
            return last is None or index - last >= self.tracking.edge_search_every
        last = self._last_idle_search
        if tracker.tracking or last is None:
            return True
        return index - last >= self.tracking.idle_search_every

    def _rereads(self, gray: np.ndarray, grid: GridWork, where: GridDetection, index: int) -> bool:
        """Whether a grid is read in line this frame: always, unless its board is confirmed
        and its page unchanged since it was last read, and that less than `reread_every`
        frames ago. With `reread_in_background`, a confirmed, unchanged board due for its
        re-read is read off this thread instead (False here; when the re-read thread is
        still busy, the next frame asks again)."""
        if self.reread_every <= 1:
            return True
        track_id = grid.track_id
        signature = page_signature(gray, where.corners)
        last = self._last_read.get(track_id)
        turns = self.result_filter.locked_orientation(track_id)
        if last is not None and turns is not None and same_page(signature, last[1]):
            if index - last[0] < self.reread_every:
                return False
            if self._rereader is not None:
                job = (track_id, turns)
                if self._rereader.submit(job, track_id, gray, where, turns, grid.visible):
                    self._last_read[track_id] = (index, signature)
                return False
        self._last_read[track_id] = (index, signature)
        return True

    def _reread(
        self,
        track_id: int,
        gray: np.ndarray,
        where: GridDetection,
        turns: int,
        visible: np.ndarray | None,
    ) -> GridWork:
        """A confirmed board's cells cut and recognised in its locked rotation, `visible`
        turned to match (the re-read thread's work)."""
        read = GridWork(track_id, where, visible=visible, cells=self.reader.extract_at(gray, where))
        if read.cells is not None and read.cells.rotations == 4:
            _in_rotation(read, turns)
        recognize_grids(self.reader.recognizer, [read])
        return read

    def _take_reread(self, grids: list[GridWork]) -> None:
        """Give a finished background re-read to its grid in this frame, if the grid is
        still followed, was not read in line this frame, and its board still has the
        rotation the re-read was cut in; otherwise it is dropped. A cell is taken as
        visible where it was in the frame re-read and is in this one."""
        if self._rereader is None:
            return
        answer = self._rereader.take()
        if answer is None:
            return
        (track_id, turns), read = answer
        for grid in grids:
            if (
                grid.track_id != track_id
                or grid.cells is not None
                or self.result_filter.locked_orientation(track_id) != turns
            ):
                continue
            visible = read.visible
            if grid.visible is not None:
                now = turn_cells(grid.visible, turns)
                visible = now if visible is None else visible & now
            grid.cells, grid.probabilities, grid.visible = read.cells, read.probabilities, visible

    def prepare(self, grids: list[GridWork]) -> None:
        """Keep only the decided rotation of the cells of boards whose orientation is locked
        (call on the thread that calls `observe`, before the model runs)."""
        for grid in grids:
            if grid.cells is None or grid.cells.rotations != 4:
                continue
            k = self.result_filter.locked_orientation(grid.track_id)
            if k is not None:
                _in_rotation(grid, k)

    def observe(self, grids: list[GridWork]) -> list[PuzzleResult]:
        """What to show for one frame's recognised grids, largest first (frames in order)."""
        self._take_reread(grids)
        observations = [
            GridObservation(
                track_id=grid.track_id,
                detection=grid.detection,
                probabilities=grid.probabilities,
                has_ink=None if grid.cells is None else grid.cells.has_ink,
                faint_ink=None if grid.cells is None else grid.cells.faint_ink,
                rotations=1 if grid.cells is None else grid.cells.rotations,
                visible=grid.visible,
                established=grid.established,
                in_doubt=grid.in_doubt,
            )
            for grid in grids
        ]
        return self.result_filter.update(observations)

    def update(self, image: np.ndarray) -> list[PuzzleResult]:
        """Read one frame (BGR uint8) of the stream; return what to show, largest first."""
        grids = self.locate(image, self._frames)
        self._frames += 1
        self.prepare(grids)
        recognize_grids(self.reader.recognizer, grids)
        return self.observe(grids)
