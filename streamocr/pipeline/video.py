"""The real-time video pipeline: one stream's stages on threads, joined by bounded queues.

Stages, each on its own thread, meet only at bounded queues::

    capture (decode, ink gray) ─▶ process (grid search + tracking) ─▶ recognize (cells,
    batched model call, stabilise) ─▶ write (overlay, MP4, JSON lines)

The frame logic is a `StreamReader`'s (`streamocr.stream`): the process stage calls its
`locate` (tracking is stateful: one thread, frame order), the recognition stage cuts the
cells of the grids read this frame (`cut_cells`, moved off the busiest stage; it skips the
re-read of a confirmed, unchanged board, a decision that reads the stabiliser, so it is
taken on the stabiliser's thread), its `prepare`, one model call for the cells of several
frames (`recognize_grids`), and its `observe` (the stabiliser: one thread, frame order).
A file's frames reach the model in fixed batches of `batch_frames`, so its outputs do not
depend on timing; a live source's batches take what is there. With stabilisation (the default) the
full grid search runs every `detect_every` frames (and on every frame while no grid is
followed, a new one is being established or a followed one fails its check); in between
optical flow follows the grids and each is verified where the flow put it
(`streamocr.verify`). A file's searches start ahead of the tracker on a thread of their own,
for the queued frames the tracker's state says it will search (`StreamReader.search_plan`);
the tracker takes the answer, or searches in line where the forecast missed, so the outputs
are the same either way. A live source's search runs in the background instead, its answer
taken up by a later frame; so does a confirmed board's periodic re-read
(`StreamReader.reread_in_background`).

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
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Config, PipelineSettings, StabilizeSettings, TrackingSettings
from ..errors import StreamOCRError
from ..overlay import Overlay
from ..reader import SudokuReader
from ..recognize import DigitRecognizer
from ..records import frame_record
from ..sinks import JsonLinesSink, VideoFileSink, WindowSink
from ..sources import VideoSource
from ..stream import GridWork, ResultFilter, StreamReader, recognize_grids
from ..types import Frame, GridDetection, PuzzleResult
from .control import budget_threads, stop_on_signals
from .metrics import RunSummary, StageMeter
from .progress import ProgressBar
from .queues import POLL_S, Aborted, StageQueue

log = logging.getLogger(__name__)

_STOP_GRACE_S = 2.0  # how long a stop waits for a source blocked in a network read
SEARCH_AHEAD = 3  # frames ahead of the tracker a file's full search may start (0: none)


@dataclass
class _Work:
    """One frame on its way through the stages."""

    frame: Frame
    captured_at: float
    gray: np.ndarray | None = None  # the frame's ink gray, made on the capture thread
    searched: Future[list[GridDetection]] | None = None  # its full search, started ahead
    grids: list[GridWork] | None = None
    results: list[PuzzleResult] | None = None


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
        stabilize: evidence over frames (default: the defaults, as `streamocr run`);
            disabled (``enabled=False``): no tracking, every frame is searched and read on
            its own.
        tracking: how grids are followed between frames (default: the defaults).

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
        tracking: TrackingSettings | None = None,
        cells_ready: threading.Event | None = None,
    ) -> None:
        self.source = source
        self.reader = reader
        self.settings = settings or PipelineSettings()
        self.video = video
        self.jsonl = jsonl
        self.window = window
        self.overlay = overlay or Overlay()
        self.progress = progress
        if stabilize is None:
            stabilize = StabilizeSettings()
        self.stream = StreamReader(
            reader,
            stabilize,
            self.settings.detect_every,
            result_filter,
            tracking,
            reread_every=self.settings.reread_every,
        )
        policy = self.settings.policy
        if policy == "auto":
            policy = "drop" if source.info.live else "wait"
        self.policy = policy
        if policy == "drop" and (tracking or TrackingSettings()).background_search:
            # Live: the full search off the frame's path (files search in line: their
            # outputs must not depend on timing).
            self.stream.search_in_background()
        if policy == "drop" and self.settings.reread_in_background:
            # Live: a confirmed board's periodic re-read off the frame's path too.
            self.stream.reread_in_background()
        # A file's full searches start ahead of the tracker, on their own thread, for the
        # frames waiting in its queue that the tracker is expected to search
        # (`_search_ahead`).
        self._ahead: ThreadPoolExecutor | None = None
        self._ahead_pending: Future[list[GridDetection]] | None = None
        if policy == "wait" and self.stream.tracker is not None and SEARCH_AHEAD > 0:
            self._ahead = ThreadPoolExecutor(1, thread_name_prefix="streamocr-search")
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._stopped_by: str | None = None
        self._errors: list[BaseException] = []
        drop = policy == "drop"
        size = self.settings.live_queue_size if drop else self.settings.queue_size
        self._frames_q = StageQueue(size, drop, self._abort)
        self._cells_q = StageQueue(size, drop, self._abort, cells_ready)
        self._results_q = StageQueue(size, drop, self._abort)
        self._display_q = StageQueue(2, True, self._abort)
        self._meters = {
            name: StageMeter(name) for name in ("decode", "detect", "cells+recognize", "write")
        }
        self._latencies_ms: list[float] = []
        self.frames_in = 0
        self.frames_out = 0
        self.model_calls = 0
        self._started_at = 0.0
        self._cut_in_process = False  # set by `start`
        # Only the tracker reads the ink gray (without stabilisation each frame is read on
        # its own, by `SudokuReader.extract`).
        self._gray_in_capture = self.stream.tracker is not None

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
        threads: list[threading.Thread] = []
        try:
            threads = self.start()
            self._supervise(threads[-1])
        except BaseException:
            self._abort.set()
            self.source.stop()
            raise
        finally:
            self._join(threads)
        if self._errors:
            raise self._with_summary(self._errors[0])
        return self._summary(time.monotonic() - self._started_at)

    def _with_summary(self, error: BaseException) -> BaseException:
        """The error, carrying what was done before it (frames, reconnects, damaged packets)."""
        if isinstance(error, StreamOCRError):
            error.summary = self._summary(time.monotonic() - self._started_at)
        return error

    def start(self, recognition: bool = True) -> list[threading.Thread]:
        """Start the stage threads (the writer last) and return them.

        Args:
            recognition: start this stream's own recognition stage; False when a shared
                stage (`streamocr.pipeline.multi`) takes its frames with `take_cells` and
                hands them back with `hand_results`.
        """
        self._started_at = time.monotonic()
        # With its own recognition stage the stream's cells are cut there; a shared stage
        # serves many streams, whose own process stages cut theirs.
        self._cut_in_process = not recognition
        stages = [("capture", self._capture), ("process", self._process)]
        if recognition:
            stages.append(("recognize", self._recognize))
        stages.append(("write", self._write))
        threads = [
            threading.Thread(target=self._guard, args=(fn,), name=f"streamocr-{name}", daemon=True)
            for name, fn in stages
        ]
        started = []
        try:
            for thread in threads:
                thread.start()
                started.append(thread)
        except BaseException:
            self._abort.set()
            self.source.stop()
            self._join(started)
            raise
        return threads

    def finish(self, threads: list[threading.Thread]) -> RunSummary:
        """Join the threads `start` returned, close the sinks and the source; return the
        summary, or raise the first error of any stage."""
        self._join(threads)
        if self._errors:
            raise self._with_summary(self._errors[0])
        return self._summary(time.monotonic() - self._started_at)

    def partial_summary(self) -> RunSummary:
        """The summary of what was done so far (after a failure, for a report)."""
        return self._summary(time.monotonic() - self._started_at)

    def _join(self, threads: list[threading.Thread]) -> None:
        for thread in threads[1:]:
            thread.join()
        # A source stuck in a network read cannot be interrupted; it is a daemon thread.
        if threads:
            threads[0].join(timeout=_STOP_GRACE_S)
        self._close()

    @property
    def failed(self) -> bool:
        """Whether a stage failed (or the stream was aborted): its queues no longer move."""
        return self._abort.is_set()

    def abort(self, error: BaseException | None = None) -> None:
        """Tear the stream down now (after `error`, kept for `finish` to raise)."""
        if error is not None and not self._errors:
            self._errors.append(error)
        self._abort.set()
        self.source.stop()

    def take_cells(self, most: int) -> tuple[list[_Work], bool]:
        """Up to `most` located frames waiting for the model, oldest first, and whether the
        stream's end was reached (for a shared recognition stage; never waits)."""
        batch: list[_Work] = []
        while len(batch) < most:
            try:
                work = self._cells_q.get_nowait()
            except TimeoutError:
                return batch, False
            if work is None:
                return batch, True
            batch.append(work)
        return batch, False

    def hand_results(self, batch: list[_Work], ended: bool) -> None:
        """Pass recognised frames on to the writer, in order; then the end when `ended`.

        Raises:
            Aborted: the stream was torn down meanwhile.
        """
        for work in batch:
            self._results_q.put(work)
        if ended:
            self._results_q.put(None)

    def _guard(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except Aborted:
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
                    index, image = self._display_q.get(timeout_s=POLL_S)
                except (TimeoutError, Aborted):
                    pass
                else:
                    if not self.window.show(image, index):
                        self.stop("q key")
            else:
                writer.join(timeout=POLL_S)
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
                try:
                    frame = next(frames, None)
                except StreamOCRError as exc:
                    # The source failed (a stream lost, a file that stops decoding): the
                    # frames already read still go through to the outputs, then run()
                    # raises the failure.
                    if not self._errors:
                        self._errors.append(exc)
                    break
                if frame is None:
                    break
                captured_at = time.perf_counter()
                meter.add(captured_at - start)
                self.frames_in += 1
                # The tracker's thread is the busiest: the ink gray its search, verifier
                # and cells read is made here (counted in the frame's latency).
                gray = frame.ink_gray() if self._gray_in_capture else None
                self._frames_q.put(_Work(frame, captured_at, gray))
                if limit and self.frames_in >= limit:
                    break
        finally:
            self._frames_q.put(None)

    def _process(self) -> None:
        meter = self._meters["detect"]
        stop_seen_at = None
        try:
            while True:
                try:
                    work = self._frames_q.get(timeout_s=POLL_S)
                except TimeoutError:
                    if self._stop.is_set():
                        stop_seen_at = stop_seen_at or time.monotonic()
                        if time.monotonic() - stop_seen_at > _STOP_GRACE_S:
                            break  # the source is stuck in a read; do not wait for it
                    continue
                if work is None:
                    break
                with meter.timing():
                    # One stream's cells are cut on its recognition stage's thread
                    # (`recognize_frames`): this stage, the tracker's, is the busiest.
                    work.grids = self.stream.locate(
                        # A tracked frame is read from its ink gray alone: its BGR
                        # picture is made only where it is drawn.
                        work.frame.image if work.gray is None else None,
                        work.frame.index,
                        cut=self._cut_in_process,
                        gray=work.gray,
                        searched=work.searched,
                    )
                work.gray = work.searched = None
                if self._ahead is not None:
                    self._search_ahead(work.frame.index)
                self._cells_q.put(work)
        finally:
            self._cells_q.put(None)

    def _search_ahead(self, index: int) -> None:
        """After frame `index`: start the full search of the first of the next
        `SEARCH_AHEAD` frames that the tracker is expected to search (`search_plan`), unless
        the search started last is still running. The tracker takes its answer when the
        frame wants a search, and runs it in line when none was started: the outputs are
        the same whether a forecast was right or not; only the time differs."""
        assert self._ahead is not None
        if self._ahead_pending is not None and not self._ahead_pending.done():
            return
        plan = self.stream.search_plan(index)
        for ahead in self._frames_q.peek(SEARCH_AHEAD):
            if ahead is None:
                break
            if ahead.searched is None and ahead.gray is not None and plan.wants(ahead.frame.index):
                ahead.searched = self._ahead.submit(self.stream.search, ahead.gray)
                self._ahead_pending = ahead.searched
                break

    def _recognize(self) -> None:
        meter = self._meters["cells+recognize"]
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
                        # A file's batches are always `most` frames (the last one aside),
                        # so its outputs do not depend on timing; a live source's take
                        # what is there, not to wait for frames.
                        more = (
                            self._cells_q.get_nowait()
                            if self.policy == "drop"
                            else self._cells_q.get()
                        )
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
        self.model_calls += recognize_frames(self.reader.recognizer, [(self.stream, batch)])

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
        self.stream.close()  # the background search's thread, if any
        if self._ahead is not None:
            self._ahead.shutdown(wait=True, cancel_futures=True)
        for closable in (self.video, self.jsonl, self.window, self.source):
            if closable is None:
                continue
            try:
                closable.close()
            except Exception as exc:  # noqa: BLE001 - close the others anyway
                if not self._errors:
                    self._errors.append(exc)  # the run's error line: not said twice
                else:
                    log.warning("closing %s failed: %s", type(closable).__name__, exc)

    def _summary(self, wall_s: float) -> RunSummary:
        latencies = np.asarray(self._latencies_ms, np.float64)
        p50 = p95 = None
        if latencies.size:
            p50, p95 = (float(v) for v in np.percentile(latencies, [50, 95]))
        return RunSummary(
            frames_in=self.frames_in,
            frames_out=self.frames_out,
            # Frames in flight when a second signal or an error aborted the run are lost
            # too: every frame that came in and did not go out counts as dropped.
            dropped=max(self.dropped, self.frames_in - self.frames_out),
            wall_s=wall_s,
            stage_fps={name: meter.fps for name, meter in self._meters.items()},
            stage_ms={
                name: ms
                for name, meter in self._meters.items()
                if (ms := meter.percentiles_ms()) is not None
            },
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            model_calls=self.model_calls,
            reconnects=getattr(self.source, "reconnects", 0),
            decode_errors=getattr(self.source, "decode_errors", 0),
            stopped_by=self._stopped_by,
            encoder=self.video.encoder if self.video is not None else None,
        )


def recognize_frames(
    recognizer: DigitRecognizer, batches: list[tuple[StreamReader, list[_Work]]]
) -> int:
    """One model call for the cells of every grid of every frame of every stream in
    `batches`; each stream's frames are prepared and observed by its own `StreamReader`, in
    order. Returns the model calls made (0 or 1)."""
    for stream, batch in batches:
        for work in batch:
            stream.cut_cells(work.grids or [], work.frame.index)  # those `locate` left
            stream.prepare(work.grids or [])
    grids = [grid for _, batch in batches for work in batch for grid in work.grids or []]
    calls = recognize_grids(recognizer, grids)
    for stream, batch in batches:
        for work in batch:
            work.results = stream.observe(work.grids or [])
            work.grids = None  # free the cell images early
    return calls


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
    compact_video: bool = False  # an encoder that holds fewer frames (`sinks.COMPACT_X264`)


def run_video(
    source_spec: str,
    reader: SudokuReader,
    settings: PipelineSettings,
    outputs: RunOutputs,
    stabilize: StabilizeSettings | None = None,
    records: list[dict] | None = None,
    tracking: TrackingSettings | None = None,
) -> RunSummary:
    """Open the source and the sinks, run the pipeline with Ctrl-C/SIGTERM as a clean stop.

    Args:
        stabilize: evidence over frames (default: the defaults, as `streamocr run`);
            disabled (``enabled=False``): each frame on its own, no tracking.
        records: when given, each frame's JSON-lines record is also appended here.
        tracking: how grids are followed between frames (default: the defaults).

    Raises:
        SourceError, SinkError, ModelError: with a message for people; outputs already
            written are closed and valid.
    """
    budget_threads(settings)
    pipeline = open_stream(
        source_spec, reader, settings, outputs, stabilize, records, tracking=tracking
    )
    with stop_on_signals(pipeline):
        return pipeline.run()


def open_stream(
    source_spec: str,
    reader: SudokuReader,
    settings: PipelineSettings,
    outputs: RunOutputs,
    stabilize: StabilizeSettings | None = None,
    records: list[dict] | None = None,
    cells_ready: threading.Event | None = None,
    tracking: TrackingSettings | None = None,
) -> VideoPipeline:
    """Open the source and the sinks of one stream; return its (not yet started) pipeline.

    Raises:
        SourceError, SinkError: with a message for people; whatever was opened is closed.
    """
    from ..sinks import check_output_paths
    from ..sources import open_source, source_kind

    # Before anything opens: an output must not be the input file, nor the other output.
    is_file = source_kind(source_spec) == "file"
    check_output_paths(source_spec if is_file else None, outputs.video_path, outputs.jsonl_path)
    if not is_file:
        # A live source sends from the moment it is opened: load the compiled kernels and
        # the model first, or its first second arrives as a backlog the pipeline must drop.
        reader.warm_up()
    source = open_source(
        source_spec,
        **settings.source_options(),
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
                compact=outputs.compact_video,
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
    return VideoPipeline(
        source,
        reader,
        settings,
        video,
        jsonl,
        window,
        progress=progress,
        stabilize=stabilize,
        tracking=tracking,
        cells_ready=cells_ready,
    )


def process_video(
    source: str,
    out: str | None = None,
    jsonl: str | None = None,
    config: Config | None = None,
    *,
    display: bool = False,
    progress: bool = False,
    reader: SudokuReader | None = None,
    records: list[dict] | None = None,
) -> RunSummary:
    """Read the Sudoku puzzles of a video file, camera or stream, as `streamocr run` does.

    Tracking and stabilisation are on (as configured); the run stops cleanly on Ctrl-C or
    SIGTERM when called from the main thread.

    Args:
        source: a file path, a camera (``"0"``, ``"/dev/video0"``) or a stream URL.
        out: write the annotated video here (MP4, H.264).
        jsonl: write one JSON line per frame here (see `streamocr.records`).
        config: the configuration (default: the built-in defaults).
        display: show a window.
        progress: show a progress bar on stderr.
        reader: reuse an already built `SudokuReader` (its model) instead of building one.
        records: when given, each frame's record is also appended here.

    Returns:
        The run's `RunSummary` (frames in and out, dropped, fps per stage, latency).

    Raises:
        StreamOCRError: a source, output, model or configuration problem, with a message
            for people; outputs already written are closed and valid.
    """
    if config is None:
        config = Config()
    reader = reader or SudokuReader.from_config(config)
    outputs = RunOutputs(video_path=out, jsonl_path=jsonl, display=display, progress=progress)
    return run_video(
        source, reader, config.pipeline, outputs, config.stabilize, records, config.tracking
    )
