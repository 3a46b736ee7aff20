"""Several streams in one process: one model shared by all, batched across streams.

Each stream is a `VideoPipeline` without its own recognition stage: its capture, process
(tracking, cells) and write threads, its queues with its own policy (files wait, live
sources drop), its own `StreamReader` state and its own sinks. One shared recognition
thread takes the located frames of every stream (up to ``batch_frames`` a stream), runs
the cells of all of them through the model in one call, has each stream's stabiliser
observe its own frames in order, and hands them back to that stream's writer::

    stream A: capture ─▶ process ─┐                        ┌─▶ write A
    stream B: capture ─▶ process ─┼─▶ recognize (shared) ──┼─▶ write B
    stream C: capture ─▶ process ─┘   one model call        └─▶ write C

A stream that fails (a corrupt file, a camera unplugged, a full disk) is torn down alone
and reported; the others go on. At most ``max_open`` streams are open at once; the next
source is opened when one ends, so a folder of thousands of files runs in bounded memory.
A failure of the shared model stops every stream.

Memory: the open streams share one stream's queue budget (``queue_size`` frames a queue,
at least 2 a stream: the shared model already has every stream's frames to batch), and large buffers go back
to the system when freed (`return_frame_memory`), so an extra stream of 720p costs tens of
megabytes rather than hundreds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace

from ..config import PipelineSettings, StabilizeSettings, TrackingSettings
from ..errors import StreamOCRError
from ..reader import SudokuReader
from .control import budget_threads, return_frame_memory
from .jobs import StreamJob, clear_complete, mark_complete
from .metrics import RunSummary, StageMeter
from .progress import FilesProgress
from .queues import POLL_S, Aborted
from .video import RunOutputs, VideoPipeline, open_stream, recognize_frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamOutcome:
    """How one stream of a many-source run ended.

    Attributes:
        summary: the stream's own summary (None when it could not be opened or was skipped).
        error: the failure's message for people, or None.
        exit_code: the failure's exit code (0 when it did not fail).
        skipped: its outputs were complete from an earlier run.
    """

    name: str
    source: str
    summary: RunSummary | None = None
    error: str | None = None
    exit_code: int = 0
    skipped: bool = False

    def line(self) -> str:
        """One line for people."""
        if self.skipped:
            return f"{self.name}: skipped (outputs complete)"
        if self.error is not None:
            done = f" after {self.summary.frames_out} frames" if self.summary else ""
            return f"{self.name}: failed{done}: {self.error}"
        assert self.summary is not None
        s = self.summary
        how = f", stopped by {s.stopped_by}" if s.stopped_by else ""
        return (
            f"{self.name}: frames in {s.frames_in}, out {s.frames_out}, dropped {s.dropped} "
            f"in {s.wall_s:.1f} s ({s.fps:.1f} fps){how}"
        )


@dataclass(frozen=True)
class MultiSummary:
    """What a many-stream run did: each stream's outcome and the totals."""

    streams: list[StreamOutcome]
    wall_s: float
    model_calls: int
    model_ms: float  # total time in model calls
    cells: int  # cells (with padding) through the model
    stopped_by: str | None = None

    @property
    def frames_out(self) -> int:
        """Frames written over all streams."""
        return sum(o.summary.frames_out for o in self.streams if o.summary is not None)

    @property
    def fps(self) -> float:
        """Aggregate frames out per second of wall time."""
        return self.frames_out / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def model_ms_per_call(self) -> float:
        """Mean milliseconds of one model call."""
        return self.model_ms / self.model_calls if self.model_calls else 0.0

    @property
    def failed(self) -> list[StreamOutcome]:
        """The streams that failed."""
        return [o for o in self.streams if o.error is not None]

    @property
    def exit_code(self) -> int:
        """0 when every stream ended well; else the first failure's code (130/143 after a
        signal)."""
        signal_code = {"SIGINT": 130, "SIGTERM": 143}.get(self.stopped_by or "")
        if signal_code:
            return signal_code
        return next((o.exit_code for o in self.streams if o.error is not None), 0)

    def lines(self) -> list[str]:
        """The per-stream lines and the totals, for people."""
        lines = [o.line() for o in self.streams]
        done = sum(1 for o in self.streams if o.error is None and not o.skipped)
        skipped = sum(1 for o in self.streams if o.skipped)
        how = f", stopped by {self.stopped_by}" if self.stopped_by else ""
        lines.append(
            f"total: {len(self.streams)} streams ({done} done, {len(self.failed)} failed, "
            f"{skipped} skipped), {self.frames_out} frames in {self.wall_s:.1f} s "
            f"({self.fps:.1f} fps){how}"
        )
        if self.model_calls:
            lines.append(
                f"model calls {self.model_calls}, {self.model_ms_per_call:.1f} ms and "
                f"{self.cells / self.model_calls:.0f} cells a call"
            )
        return lines


@dataclass
class _Lane:
    """One open stream of the run."""

    job: StreamJob
    pipeline: VideoPipeline
    threads: list[threading.Thread]
    records: list[dict] | None = None
    ended: bool = False  # the shared stage handed on its end (or gave up on it)


@dataclass
class _ModelMeter:
    calls: int = 0
    cells: int = 0
    busy_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _CountingRecognizer:
    """Wraps the model to count the cells and time of each call."""

    def __init__(self, recognizer, meter: _ModelMeter) -> None:
        self.recognizer = recognizer
        self.meter = meter

    def recognize(self, cells):
        start = time.perf_counter()
        try:
            return self.recognizer.recognize(cells)
        finally:
            self.meter.busy_s += time.perf_counter() - start
            self.meter.cells += len(cells)
            self.meter.calls += 1


class MultiStreamRunner:
    """Runs several streams in one process with one shared, batched model.

    Args:
        jobs: the streams and their outputs, in order.
        reader: the stateless stages and the one model that every stream shares.
        settings: queues, policy (per stream: "auto" waits on files, drops on live ones),
            ``batch_frames`` (most frames a stream puts into one model call).
        stabilize: tracking and evidence over frames; None: each frame on its own.
        max_open: most streams open at once (the rest wait their turn).
        progress: show a progress bar over files and frames on stderr.
        stream_queue_size: least queue size of a stream, in frames: the open streams share
            ``queue_size`` frames a queue, but each gets at least this many.
        records: when given, each stream's records are also kept here by its name.
        tracking: how grids are followed between frames (default: the defaults).

    Example:
        >>> jobs = plan_jobs(["a.mp4", "b.mp4"], "out")
        >>> summary = MultiStreamRunner(jobs, SudokuReader.from_config()).run()
    """

    def __init__(
        self,
        jobs: list[StreamJob],
        reader: SudokuReader,
        settings: PipelineSettings | None = None,
        stabilize: StabilizeSettings | None = None,
        max_open: int = 4,
        progress: bool = False,
        records: dict[str, list[dict]] | None = None,
        stream_queue_size: int = 2,
        tracking: TrackingSettings | None = None,
    ) -> None:
        if max_open < 1:
            raise ValueError(f"max_open must be >= 1, got {max_open}")
        self.jobs = list(jobs)
        self.reader = reader
        settings = settings or PipelineSettings()
        # The open streams share the one stream's queue budget (at least 2 frames each).
        open_streams = max(1, min(max_open, len(self.jobs)))
        cap = max(stream_queue_size, settings.queue_size // open_streams)
        self.settings = replace(
            settings,
            queue_size=min(settings.queue_size, cap),
            live_queue_size=min(settings.live_queue_size, cap),
        )
        self.stabilize = stabilize
        self.tracking = tracking
        self.max_open = max_open
        # Several encoders at once: each holds fewer frames (memory per stream).
        self._compact_video = open_streams > 1
        self.progress = progress
        self.records = records
        self._model = _ModelMeter()
        self._recognizer = _CountingRecognizer(reader.recognizer, self._model)
        self._cells_ready = threading.Event()
        self._lanes: list[_Lane] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._no_more_lanes = threading.Event()
        self._stopped_by: str | None = None
        self._model_error: BaseException | None = None
        self._meter = StageMeter("recognize")

    def stop(self, reason: str = "request") -> None:
        """End the run soon: open no more streams; the open ones finish their frames in
        flight. A second call aborts them."""
        self._stopped_by = self._stopped_by or reason
        self._stop.set()
        with self._lock:
            lanes = list(self._lanes)
        for lane in lanes:
            lane.pipeline.stop(reason)

    def run(self, skipped: list[StreamJob] | None = None) -> MultiSummary:
        """Run every job; return each stream's outcome and the totals.

        Args:
            skipped: jobs left out because their outputs were complete (reported as such).

        Raises:
            StreamOCRError: the shared model failed (every stream is stopped first).
        """
        budget_threads(self.settings)
        return_frame_memory()
        self.reader.warm_up()
        start = time.monotonic()
        outcomes: dict[str, StreamOutcome] = {
            job.name: StreamOutcome(job.name, job.source, skipped=True) for job in skipped or []
        }
        pending = list(self.jobs)
        bar = FilesProgress(len(self.jobs)) if self.progress else None
        recognizer = threading.Thread(
            target=self._recognize_guard, name="streamocr-recognize-shared", daemon=True
        )
        recognizer.start()
        frames_done = 0
        last_progress = 0.0
        try:
            while True:
                while pending and len(self._lanes) < self.max_open and not self._stop.is_set():
                    if self._model_error is not None:
                        break
                    job = pending.pop(0)
                    outcome = self._open(job)
                    if outcome is not None:
                        outcomes[job.name] = outcome
                        if bar is not None:
                            bar.file_done()
                if not self._lanes and (not pending or self._stop.is_set()):
                    break
                if self._model_error is not None:
                    for lane in list(self._lanes):
                        lane.pipeline.abort()
                for lane in list(self._lanes):
                    if lane.threads[-1].is_alive():
                        continue
                    outcome = self._finish(lane)
                    outcomes[lane.job.name] = outcome
                    if outcome.summary is not None:
                        frames_done += outcome.summary.frames_out
                    if bar is not None:
                        bar.file_done()
                now = time.monotonic()
                if bar is not None and now - last_progress >= 0.25:
                    bar.update(frames_done + sum(la.pipeline.frames_out for la in self._lanes))
                    last_progress = now
                if self._lanes:
                    self._lanes[0].threads[-1].join(timeout=POLL_S)
        except BaseException:
            for lane in list(self._lanes):
                lane.pipeline.abort()
            for lane in list(self._lanes):
                outcomes[lane.job.name] = self._finish(lane)
            raise
        finally:
            self._no_more_lanes.set()
            self._cells_ready.set()
            recognizer.join()
            if bar is not None:
                bar.update(frames_done)
                bar.close()
        if self._model_error is not None:
            raise self._model_error
        for job in pending:  # not started: the run was stopped first
            outcomes.setdefault(job.name, StreamOutcome(job.name, job.source, error="not run"))
        order = [job.name for job in skipped or []] + [job.name for job in self.jobs]
        return MultiSummary(
            streams=[outcomes[name] for name in order if name in outcomes],
            wall_s=time.monotonic() - start,
            model_calls=self._model.calls,
            model_ms=self._model.busy_s * 1000.0,
            cells=self._model.cells,
            stopped_by=self._stopped_by,
        )

    def _open(self, job: StreamJob) -> StreamOutcome | None:
        """Open a job's source and sinks and start its threads; its outcome if that failed."""
        clear_complete(job)
        records = [] if self.records is not None else None
        outputs = RunOutputs(
            video_path=job.video_path, jsonl_path=job.jsonl_path, compact_video=self._compact_video
        )
        try:
            pipeline = open_stream(
                job.source,
                self.reader,
                self.settings,
                outputs,
                self.stabilize,
                records,
                cells_ready=self._cells_ready,
                tracking=self.tracking,
            )
        except StreamOCRError as exc:
            log.info("%s: %s", job.name, exc)
            return StreamOutcome(job.name, job.source, error=str(exc), exit_code=exc.exit_code)
        if records is not None and self.records is not None:
            self.records[job.name] = records
        threads = pipeline.start(recognition=False)
        with self._lock:
            self._lanes.append(_Lane(job, pipeline, threads, records))
        if self._stop.is_set():
            pipeline.stop(self._stopped_by or "request")
        return None

    def _finish(self, lane: _Lane) -> StreamOutcome:
        """Join a stream whose writer ended, close it; its outcome."""
        with self._lock:
            if lane in self._lanes:
                self._lanes.remove(lane)
        job = lane.job
        pipeline = lane.pipeline
        try:
            summary = pipeline.finish(lane.threads)
        except StreamOCRError as exc:
            return StreamOutcome(
                job.name,
                job.source,
                summary=pipeline.partial_summary(),
                error=str(exc),
                exit_code=exc.exit_code,
            )
        except Exception as exc:  # noqa: BLE001 - one stream's bug must not end the others
            log.exception("%s failed", job.name)
            return StreamOutcome(
                job.name, job.source, error=f"{type(exc).__name__}: {exc}", exit_code=1
            )
        if self._model_error is not None:
            return StreamOutcome(
                job.name, job.source, summary, error=str(self._model_error), exit_code=1
            )
        if summary.stopped_by is None:
            mark_complete(job, summary.frames_out)
        return StreamOutcome(job.name, job.source, summary)

    def _recognize_guard(self) -> None:
        try:
            self._recognize()
        except BaseException as exc:  # noqa: BLE001 - raised by run() on the main thread
            self._model_error = exc
            with self._lock:
                lanes = list(self._lanes)
            for lane in lanes:
                lane.pipeline.abort(exc)

    def _recognize(self) -> None:
        """The shared stage: the cells of every stream's waiting frames in one model call."""
        most = self.settings.batch_frames
        while True:
            self._cells_ready.wait(POLL_S)
            self._cells_ready.clear()
            with self._lock:
                lanes = [lane for lane in self._lanes if not lane.ended]
            if not lanes and self._no_more_lanes.is_set():
                return
            batches = []
            for lane in lanes:
                if lane.pipeline.failed:
                    lane.ended = True
                    continue
                batch, ended = lane.pipeline.take_cells(most)
                if batch or ended:
                    batches.append((lane, batch, ended))
            work = [(lane.pipeline.stream, batch) for lane, batch, _ in batches if batch]
            if work:
                frames = sum(len(batch) for _, batch in work)
                with self._meter.timing(frames):
                    calls = recognize_frames(self._recognizer, work)
                for lane, batch, _ in batches:
                    if batch:
                        lane.pipeline.model_calls += calls
            for lane, batch, ended in batches:
                try:
                    lane.pipeline.hand_results(batch, ended)
                except Aborted:
                    ended = True  # the stream was torn down meanwhile
                if ended:
                    lane.ended = True
            if batches:
                # Frames may still be waiting beyond `most`: look again at once.
                self._cells_ready.set()
