"""The real-time video pipeline: stage threads, bounded queues, policies, metrics, shutdown.

Stages, each on its own thread, meet only at bounded queues::

    capture ─▶ process (grid search + tracking, cells) ─▶ recognize (batched model call,
    stabilise) ─▶ write (overlay, MP4, JSON lines)

With stabilisation (the default of `run`), the process stage follows the grids from frame
to frame with optical flow (`GridTracker`) and runs the full grid search only every
`detect_every` frames (and on every frame while no grid is followed); the recognition stage
hands each frame's grids to a `Stabilizer`, which keeps the evidence of each board over
frames. Both are stateful and each runs on its own single thread, in frame order.

``None`` after the last item is the end of the stream. With the "wait" policy (files) a full
queue holds its producer back, so no frame is lost; with "drop" (live sources) it drops its
oldest item to make room for the newest and counts it. The calling thread supervises: it
shows the window and the progress bar, and turns `stop()` (Ctrl-C, SIGTERM, the q key)
into an orderly end: capture stops, the frames already in flight are finished, the sinks
are closed. A failure in any stage aborts the others and is re-raised by `run()` after the
sinks are closed, so whatever was written stays valid.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

import numpy as np

from .config import PipelineSettings, StabilizeSettings
from .overlay import Overlay
from .reader import CellBatch, SudokuReader
from .sinks import JsonLinesSink, VideoFileSink, WindowSink
from .sources import VideoSource
from .stabilize import GridObservation, Stabilizer
from .tracking import GridTracker
from .types import Frame, GridDetection, PuzzleResult
from .verify import OutlineVerifier

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often a waiting stage looks at the stop and abort flags
_STOP_GRACE_S = 2.0  # how long a stop waits for a source blocked in a network read


class _Aborted(Exception):
    """Raised inside a stage when another stage failed and the run is being torn down."""


class StageQueue:
    """A bounded FIFO between two stages with a full-queue policy.

    Args:
        maxsize: capacity in items.
        drop_oldest: when full, drop the oldest item (and count it) instead of waiting.
        abort: set when the run is torn down; a waiting `put` or `get` then raises.
    """

    def __init__(self, maxsize: int, drop_oldest: bool, abort: threading.Event) -> None:
        self.maxsize = maxsize
        self.drop_oldest = drop_oldest
        self.dropped = 0
        self._items: deque[Any] = deque()
        self._abort = abort
        self._cond = threading.Condition()

    def put(self, item: Any) -> None:
        """Add an item, waiting (or dropping the oldest) when the queue is full."""
        with self._cond:
            while len(self._items) >= self.maxsize:
                if self.drop_oldest and item is not None:
                    self._items.popleft()
                    self.dropped += 1
                    break
                if self._abort.is_set():
                    raise _Aborted
                self._cond.wait(_POLL_S)
            self._items.append(item)
            self._cond.notify_all()

    def get(self, timeout_s: float | None = None) -> Any:
        """Remove the oldest item; wait for one up to `timeout_s` (then raise TimeoutError)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while not self._items:
                if self._abort.is_set():
                    raise _Aborted
                wait_s = _POLL_S
                if deadline is not None:
                    wait_s = min(wait_s, deadline - time.monotonic())
                    if wait_s <= 0:
                        raise TimeoutError
                self._cond.wait(wait_s)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def get_nowait(self) -> Any:
        """Remove the oldest item now; raise TimeoutError when there is none."""
        with self._cond:
            if not self._items:
                raise TimeoutError
            item = self._items.popleft()
            self._cond.notify_all()
            return item


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

    def __init__(self, reader: SudokuReader) -> None:
        self.reader = reader

    def update(self, observations: list[GridObservation]) -> list[PuzzleResult]:
        """Interpret each recognised grid on its own."""
        results = []
        for o in observations:
            if o.probabilities is None:
                continue
            # `interpret` reads only the ink and the probabilities, not the cell images.
            no_cells = np.empty((0, 1, 28, 28), np.float32)
            batch = CellBatch(o.detection, no_cells, o.has_ink, o.rotations)
            results.append(self.reader.interpret(batch, o.probabilities))
        return results

    def locked_orientation(self, track_id: int) -> int | None:
        """Each frame is read on its own: every orientation is tried every time."""
        return None


@dataclass
class _Grid:
    """One grid of a frame between the process and recognition stages."""

    track_id: int
    detection: GridDetection
    established: bool = True
    visible: np.ndarray | None = None
    cells: CellBatch | None = None
    probabilities: np.ndarray | None = None


@dataclass
class _Work:
    """One frame on its way through the stages."""

    frame: Frame
    captured_at: float
    grids: list[_Grid] | None = None
    results: list[PuzzleResult] | None = None


@dataclass
class StageMeter:
    """Frames a stage handled and the time it spent busy on them."""

    name: str
    frames: int = 0
    busy_s: float = 0.0

    @contextmanager
    def timing(self, frames: int = 1) -> Iterator[None]:
        """Count `frames` and the time spent in the block."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.busy_s += time.perf_counter() - start
            self.frames += frames

    @property
    def fps(self) -> float:
        """Frames per second of busy time (what the stage could sustain alone)."""
        return self.frames / self.busy_s if self.busy_s > 0 else 0.0


@dataclass(frozen=True)
class RunSummary:
    """What a run did: counts, speed per stage, latency, how it ended."""

    frames_in: int
    frames_out: int
    dropped: int
    wall_s: float
    stage_fps: dict[str, float]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    model_calls: int = 0
    reconnects: int = 0
    decode_errors: int = 0
    stopped_by: str | None = None  # None when the source ended by itself
    encoder: str | None = None

    @property
    def fps(self) -> float:
        """Frames out per second of wall time."""
        return self.frames_out / self.wall_s if self.wall_s > 0 else 0.0

    def lines(self) -> list[str]:
        """A human summary, a few lines."""
        how = f", stopped by {self.stopped_by}" if self.stopped_by else ""
        lines = [
            f"frames in {self.frames_in}, out {self.frames_out}, dropped {self.dropped} "
            f"in {self.wall_s:.1f} s ({self.fps:.1f} fps){how}",
            "stage fps: " + ", ".join(f"{k} {v:.1f}" for k, v in self.stage_fps.items()),
        ]
        if self.latency_p50_ms is not None:
            lines.append(
                f"latency p50 {self.latency_p50_ms:.1f} ms, p95 {self.latency_p95_ms:.1f} ms"
            )
        extra = []
        if self.model_calls:
            extra.append(f"model calls {self.model_calls}")
        if self.reconnects:
            extra.append(f"reconnects {self.reconnects}")
        if self.decode_errors:
            extra.append(f"damaged packets {self.decode_errors}")
        if self.encoder:
            extra.append(f"encoder {self.encoder}")
        if extra:
            lines.append(", ".join(extra))
        return lines


def _grid_fields(result: PuzzleResult) -> dict[str, Any]:
    """found, corners, digits, solution of one grid; no digits while any cell is undecided."""
    fields: dict[str, Any] = {
        "found": result.found,
        "corners": None,
        "digits": None,
        "solution": None,
    }
    if result.detection is not None:
        fields["corners"] = [
            [round(float(x), 2), round(float(y), 2)] for x, y in result.detection.corners
        ]
    if result.reading is not None and not result.undecided:
        fields["digits"] = result.reading.digit_string
    if result.solution is not None:
        fields["solution"] = "".join(str(int(d)) for d in result.solution)
    return fields


def frame_record(
    frame: Frame, results: PuzzleResult | list[PuzzleResult], latency_ms: float
) -> dict:
    """The JSON-lines record of one frame.

    The top-level fields describe the largest grid (or say none was found), so readers of
    the one-puzzle format keep working; with several grids, ``grids`` lists them all,
    largest first, with the same fields. A grid still being acquired has corners but no
    digits.
    """
    if isinstance(results, PuzzleResult):
        results = [results] if results.found else []
    record: dict[str, Any] = {"frame": frame.index, "pts": round(frame.pts_s, 6)}
    record.update(_grid_fields(results[0] if results else PuzzleResult(None, None)))
    if len(results) > 1:
        record["grids"] = [_grid_fields(r) for r in results]
    record["latency_ms"] = round(latency_ms, 2)
    return record


def budget_threads(settings: PipelineSettings) -> None:
    """Keep the libraries' own thread pools small: the stages already use the cores."""
    import cv2
    import numba

    cv2.setNumThreads(settings.cv_threads)
    try:
        numba.set_num_threads(min(settings.cv_threads, numba.config.NUMBA_NUM_THREADS))
    except ValueError:
        pass


class ProgressBar:
    """A one-line progress bar on a terminal: frames, fps, ETA."""

    def __init__(self, total: int | None, stream: TextIO = sys.stderr, width: int = 24) -> None:
        self.total = total
        self.stream = stream
        self.width = width
        self._start = time.monotonic()
        self._shown = False

    def update(self, done: int) -> None:
        """Redraw the line for `done` frames."""
        elapsed = time.monotonic() - self._start
        fps = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            share = min(1.0, done / self.total)
            filled = int(share * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            eta = (self.total - done) / fps if fps > 0 else 0.0
            text = f"[{bar}] {done}/{self.total} frames {fps:5.1f} fps ETA {_clock(eta)}"
        else:
            text = f"{done} frames {fps:5.1f} fps {_clock(elapsed)}"
        self.stream.write("\r" + text + " ")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the line."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class VideoPipeline:
    """Reads a video source, reads the Sudoku in each frame and writes the results.

    Args:
        source: an opened `VideoSource`.
        reader: supplies the stages: `extract` (processing thread),
            `recognizer.recognize` and `interpret` (recognition thread).
        settings: queues, policy, batching.
        video: annotated MP4 output, or None.
        jsonl: per-frame JSON lines, or None.
        window: an on-screen window, or None.
        overlay: draws results on frames (only used when there is a video or window).
        result_filter: the seam for temporal stabilisation (default: a `Stabilizer` when
            `stabilize` is given and enabled, else `PassThrough`).
        progress: a progress bar redrawn by the calling thread, or None.
        stabilize: tracking and evidence settings; None or disabled: every frame is
            searched and read on its own.

    Example:
        >>> pipeline = VideoPipeline(open_source("clip.mp4"), SudokuReader(), jsonl=sink)
        >>> summary = pipeline.run()
    """

    def __init__(
        self,
        source: VideoSource,
        reader: SudokuReader,
        settings: PipelineSettings | None = None,
        video: VideoFileSink | None = None,
        jsonl: JsonLinesSink | None = None,
        window: WindowSink | None = None,
        overlay: Overlay | None = None,
        result_filter: ResultFilter | None = None,
        progress: ProgressBar | None = None,
        stabilize: StabilizeSettings | None = None,
    ) -> None:
        self.source = source
        self.reader = reader
        self.settings = settings or PipelineSettings()
        self.video = video
        self.jsonl = jsonl
        self.window = window
        self.overlay = overlay or Overlay()
        self.progress = progress
        self.stabilize = stabilize if stabilize is not None and stabilize.enabled else None
        self.tracker: GridTracker | None = None
        if self.stabilize is not None:
            st = self.stabilize
            self.tracker = GridTracker(
                warp_size=9 * reader.finder.settings.warp_cell_px,
                max_grids=st.max_grids,
                confirm_detections=st.track_confirm_detections,
                max_missed_frames=st.track_max_missed_frames,
                min_visible_share=st.min_visible_share,
                corner_gain=st.corner_gain,
                jump_share=st.jump_share,
                min_points=st.min_track_points,
                verifier=OutlineVerifier(
                    9 * reader.finder.settings.warp_cell_px, reader.finder.settings.min_score
                ),
            )
        if result_filter is None:
            result_filter = Stabilizer(self.stabilize) if self.stabilize else PassThrough(reader)
        self.result_filter = result_filter
        policy = self.settings.policy
        if policy == "auto":
            policy = "drop" if source.info.live else "wait"
        self.policy = policy
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._stopped_by: str | None = None
        self._errors: list[BaseException] = []
        drop = policy == "drop"
        size = self.settings.live_queue_size if drop else self.settings.queue_size
        self._frames_q = StageQueue(size, drop, self._abort)
        self._cells_q = StageQueue(size, drop, self._abort)
        self._results_q = StageQueue(size, drop, self._abort)
        self._display_q = StageQueue(2, True, self._abort)
        self._meters = {
            name: StageMeter(name) for name in ("decode", "detect+cells", "recognize", "write")
        }
        self._latencies_ms: list[float] = []
        self.frames_in = 0
        self.frames_out = 0
        self.model_calls = 0

    @property
    def dropped(self) -> int:
        """Frames dropped so far by the live policy."""
        return self._frames_q.dropped + self._cells_q.dropped + self._results_q.dropped

    def stop(self, reason: str = "request") -> None:
        """End the run soon: finish the frames in flight, then close. A second call aborts."""
        if self._stop.is_set():
            self._abort.set()
        self._stopped_by = self._stopped_by or reason
        self._stop.set()
        self.source.stop()

    def run(self) -> RunSummary:
        """Run until the source ends or `stop()` is called; return the summary.

        Raises:
            StreamOCRError: the first error of any stage (source, model, sink), after the
                other stages were stopped and the sinks closed.
        """
        # Load the compiled kernels and the model session before the first frame arrives,
        # so a live source does not drop the frames that queue up meanwhile.
        self.reader.warm_up()
        start = time.monotonic()
        stages = [
            ("capture", self._capture),
            ("process", self._process),
            ("recognize", self._recognize),
            ("write", self._write),
        ]
        threads = [
            threading.Thread(target=self._guard, args=(fn,), name=f"streamocr-{name}", daemon=True)
            for name, fn in stages
        ]
        try:
            for thread in threads:
                thread.start()
            self._supervise(threads[-1])
        except BaseException:
            self._abort.set()
            self.source.stop()
            raise
        finally:
            for thread in threads[1:]:
                thread.join()
            # A source stuck in a network read cannot be interrupted; it is a daemon thread.
            threads[0].join(timeout=_STOP_GRACE_S)
            self._close()
        if self._errors:
            raise self._errors[0]
        return self._summary(time.monotonic() - start)

    def _guard(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to run() on the main thread
            if not self._errors:
                self._errors.append(exc)
            self._abort.set()
            self.source.stop()

    def _supervise(self, writer: threading.Thread) -> None:
        """The calling thread: window, keys, progress bar, until the writer is done."""
        last_progress = 0.0
        while writer.is_alive():
            if self.window is not None:
                try:
                    index, image = self._display_q.get(timeout_s=_POLL_S)
                except (TimeoutError, _Aborted):
                    pass
                else:
                    if not self.window.show(image, index):
                        self.stop("q key")
            else:
                writer.join(timeout=_POLL_S)
            now = time.monotonic()
            if self.progress is not None and now - last_progress >= 0.25:
                self.progress.update(self.frames_out)
                last_progress = now
        if self.progress is not None:
            self.progress.update(self.frames_out)
            self.progress.close()

    def _capture(self) -> None:
        meter = self._meters["decode"]
        limit = self.settings.max_frames
        try:
            frames = self.source.frames()
            while not self._stop.is_set():
                start = time.perf_counter()
                frame = next(frames, None)
                if frame is None:
                    break
                meter.busy_s += time.perf_counter() - start
                meter.frames += 1
                self.frames_in += 1
                self._frames_q.put(_Work(frame, time.perf_counter()))
                if limit and self.frames_in >= limit:
                    break
        finally:
            self._frames_q.put(None)

    def _process(self) -> None:
        meter = self._meters["detect+cells"]
        stop_seen_at = None
        try:
            while True:
                try:
                    work = self._frames_q.get(timeout_s=_POLL_S)
                except TimeoutError:
                    if self._stop.is_set():
                        stop_seen_at = stop_seen_at or time.monotonic()
                        if time.monotonic() - stop_seen_at > _STOP_GRACE_S:
                            break  # the source is stuck in a read; do not wait for it
                    continue
                if work is None:
                    break
                with meter.timing():
                    work.grids = self._locate(work.frame)
                self._cells_q.put(work)
        finally:
            self._cells_q.put(None)

    def _locate(self, frame: Frame) -> list[_Grid]:
        """The grids of one frame with their cells cut (where they are read this frame)."""
        image = frame.image
        if self.tracker is None:
            batch = self.reader.extract(image)
            return [] if batch is None else [_Grid(0, batch.detection, cells=batch)]
        settings = self.stabilize
        every = self.settings.detect_every
        detections = None
        # Search every frame while nothing is followed, a new grid is being confirmed or a
        # followed one failed its check, so a grid is acquired at once; in between,
        # optical flow follows each grid and the tracker verifies it where the flow put it.
        if self.tracker.needs_search or frame.index % every == 0:
            detections = self.reader.finder.detect_all(image, settings.max_grids)
        tracked = self.tracker.update(image, detections)
        read = frame.index % settings.recognize_every == 0
        return [
            _Grid(
                t.track_id,
                t.detection,
                t.established,
                t.visible,
                self.reader.extract_at(image, t.cut) if read else None,
            )
            for t in tracked
        ]

    def _recognize(self) -> None:
        meter = self._meters["recognize"]
        most = self.settings.batch_frames
        ended = False
        try:
            while not ended:
                work = self._cells_q.get()
                if work is None:
                    break
                batch = [work]
                while len(batch) < most:
                    try:
                        more = self._cells_q.get_nowait()
                    except TimeoutError:
                        break
                    if more is None:
                        ended = True
                        break
                    batch.append(more)
                with meter.timing(len(batch)):
                    self._recognize_batch(batch)
                for work in batch:
                    self._results_q.put(work)
        finally:
            self._results_q.put(None)

    def _recognize_batch(self, batch: list[_Work]) -> None:
        """One model call for the cells of every grid of every frame in `batch`."""
        found = [grid for work in batch for grid in work.grids or [] if grid.cells is not None]
        for grid in found:
            # Once a board's orientation is decided only that rotation is recognised.
            k = self.result_filter.locked_orientation(grid.track_id)
            if k is not None and grid.cells.rotations == 4:
                rows = slice(k * 81, (k + 1) * 81)
                cells = grid.cells
                grid.cells = CellBatch(cells.detection, cells.inputs[rows], cells.has_ink[rows], 1)
                if grid.visible is not None:
                    grid.visible = np.rot90(grid.visible.reshape(9, 9), k).reshape(81)
        if found:
            counts = [len(grid.cells.inputs) for grid in found]
            # Pad to a power of two of grids (81 cells each), so the session sees few shapes.
            grids = 1
            while grids * 81 < sum(counts):
                grids *= 2
            inputs = np.zeros((grids * 81, 1, 28, 28), np.float32)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            for grid, start, count in zip(found, starts, counts, strict=True):
                inputs[start : start + count] = grid.cells.inputs
            probabilities = self.reader.recognizer.recognize(inputs)
            self.model_calls += 1
            for grid, start, count in zip(found, starts, counts, strict=True):
                grid.probabilities = probabilities[start : start + count]
        for work in batch:
            observations = [
                GridObservation(
                    track_id=grid.track_id,
                    detection=grid.detection,
                    probabilities=grid.probabilities,
                    has_ink=None if grid.cells is None else grid.cells.has_ink,
                    rotations=1 if grid.cells is None else grid.cells.rotations,
                    visible=grid.visible,
                    established=grid.established,
                )
                for grid in work.grids or []
            ]
            work.results = self.result_filter.update(observations)
            work.grids = None  # free the cell images early

    def _write(self) -> None:
        meter = self._meters["write"]
        draw = self.video is not None or self.window is not None
        while True:
            work = self._results_q.get()
            if work is None:
                break
            with meter.timing():
                frame = work.frame
                if draw:
                    annotated = self.overlay.draw_all(frame.image, work.results)
                    if self.video is not None:
                        self.video.write(annotated, frame.pts_s)
                    if self.window is not None:
                        self._display_q.put((frame.index, annotated))
                latency_ms = (time.perf_counter() - work.captured_at) * 1000.0
                if self.jsonl is not None:
                    self.jsonl.write(frame_record(frame, work.results, latency_ms))
            self._latencies_ms.append(latency_ms)
            self.frames_out += 1

    def _close(self) -> None:
        for closable in (self.video, self.jsonl, self.window, self.source):
            if closable is None:
                continue
            try:
                closable.close()
            except Exception as exc:  # noqa: BLE001 - close the others anyway
                log.warning("closing %s failed: %s", type(closable).__name__, exc)
                if not self._errors:
                    self._errors.append(exc)

    def _summary(self, wall_s: float) -> RunSummary:
        latencies = np.asarray(self._latencies_ms, np.float64)
        p50 = p95 = None
        if latencies.size:
            p50, p95 = (float(v) for v in np.percentile(latencies, [50, 95]))
        return RunSummary(
            frames_in=self.frames_in,
            frames_out=self.frames_out,
            dropped=self.dropped,
            wall_s=wall_s,
            stage_fps={name: meter.fps for name, meter in self._meters.items()},
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            model_calls=self.model_calls,
            reconnects=getattr(self.source, "reconnects", 0),
            decode_errors=getattr(self.source, "decode_errors", 0),
            stopped_by=self._stopped_by,
            encoder=self.video.encoder if self.video is not None else None,
        )


@contextmanager
def stop_on_signals(pipeline: VideoPipeline) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `pipeline.stop()` while the block runs.

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
    previous = {}

    def handler(signum: int, _frame: Any) -> None:
        pipeline.stop(names.get(signum, str(signum)))

    for signum in names:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class _RecordTee:
    """A JSON-lines sink that also keeps the records in a list (for scoring a run)."""

    def __init__(self, sink: JsonLinesSink | None, records: list[dict] | None) -> None:
        self.sink = sink
        self.records = records

    def write(self, record: dict) -> None:
        """Write the record to the file and keep it."""
        if self.sink is not None:
            self.sink.write(record)
        if self.records is not None:
            self.records.append(record)

    def close(self) -> None:
        """Close the file."""
        if self.sink is not None:
            self.sink.close()


@dataclass
class RunOutputs:
    """Where `run_video` writes: all optional."""

    video_path: str | None = None
    jsonl_path: str | None = None
    display: bool = False
    progress: bool = False


def run_video(
    source_spec: str,
    reader: SudokuReader,
    settings: PipelineSettings,
    outputs: RunOutputs,
    stabilize: StabilizeSettings | None = None,
    records: list[dict] | None = None,
) -> RunSummary:
    """Open the source and the sinks, run the pipeline with Ctrl-C/SIGTERM as a clean stop.

    Args:
        stabilize: tracking and evidence over frames; None: each frame on its own.
        records: when given, each frame's JSON-lines record is also appended here.

    Raises:
        SourceError, SinkError, ModelError: with a message for people; outputs already
            written are closed and valid.
    """
    from .sources import open_source

    budget_threads(settings)
    source = open_source(
        source_spec,
        open_timeout_s=settings.open_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        reconnect_attempts=settings.reconnect_attempts,
        reconnect_backoff_s=settings.reconnect_backoff_s,
        decoder_threads=settings.decoder_threads,
    )
    opened: list[Any] = [source]
    try:
        info = source.info
        video = jsonl = window = None
        if outputs.video_path:
            video = VideoFileSink(
                outputs.video_path,
                info.width,
                info.height,
                info.fps,
                # A file keeps its own time base and timestamps; a live source's start at 0.
                time_base=None if info.live else info.time_base,
                start_at_zero=info.live,
            )
            opened.append(video)
        if outputs.jsonl_path or records is not None:
            jsonl = _RecordTee(
                JsonLinesSink(outputs.jsonl_path) if outputs.jsonl_path else None, records
            )
            opened.append(jsonl)
        if outputs.display:
            window = WindowSink(f"streamocr - {info.name}")
            opened.append(window)
    except BaseException:
        for closable in reversed(opened):
            closable.close()
        raise
    total = info.frame_count
    if settings.max_frames:
        total = min(total, settings.max_frames) if total else settings.max_frames
    progress = ProgressBar(total) if outputs.progress else None
    pipeline = VideoPipeline(
        source, reader, settings, video, jsonl, window, progress=progress, stabilize=stabilize
    )
    with stop_on_signals(pipeline):
        return pipeline.run()
