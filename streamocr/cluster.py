"""Running many streams on a Ray cluster (`streamocr run ... --cluster local|auto|ADDRESS`).

The optional extra ``streamocr[cluster]`` installs Ray; only this module imports it, and only
when a cluster run starts. The work is the same as in one process
(`streamocr.pipeline.multi`), spread over Ray actors:

- one `StreamWorker` actor per open stream: the stream's own pipeline (capture, process,
  recognition, write threads; its tracker and stabiliser, in frame order; its sinks), with
  at most ``batch_frames`` frames in one model request and one request in flight, so the
  frames in flight per stream stay bounded by its queues;
- one `RecognizerServer` actor per GPU (or per node without GPUs): an asyncio actor whose
  small batcher gathers the cells of every stream's requests and runs them through the model
  in one call every ``max_wait_ms`` or as soon as ``max_cells`` cells wait;
- the driver (this process) hands files to a bounded pool of stream workers, at most
  ``max_streams`` at once, and collects each stream's summary.

Sources and output folders are paths as the workers see them: on a cluster of several
machines, a shared file system (or URLs as sources).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ClusterError, StreamOCRError
from .recognize import padded_size

if TYPE_CHECKING:
    from .config import Config, PipelineSettings
    from .pipeline.jobs import StreamJob
    from .pipeline.multi import MultiSummary

log = logging.getLogger(__name__)

_POLL_S = 0.25


class RecognizerServer:
    """The digit model as a service for many streams, with dynamic batching.

    Args:
        config: the run's configuration (the model, its device and threads).
        max_cells: run the model as soon as this many cells wait.
        max_wait_ms: otherwise run it this long after the first request of a batch came.
    """

    def __init__(self, config: Config, max_cells: int = 81 * 32, max_wait_ms: float = 4.0):
        from .recognize import DigitRecognizer

        recognition = config.recognition
        self.recognizer = DigitRecognizer(
            recognition.model, recognition.device, recognition.threads
        )
        self.recognizer.warm_up()  # on CUDA: every batch shape before the first stream's
        self.max_cells = max_cells
        self.max_wait_s = max_wait_ms / 1000.0
        self._pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self._pending_cells = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.calls = 0
        self.cells = 0
        self.busy_s = 0.0

    async def recognize(self, cells: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) for cells (N, 1, 28, 28), batched with other calls."""
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._batcher())
        assert self._wake is not None
        future = loop.create_future()
        self._pending.append((cells, future))
        self._pending_cells += len(cells)
        self._wake.set()
        return await future

    async def _batcher(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                continue
            if self._pending_cells < self.max_cells:
                await asyncio.sleep(self.max_wait_s)  # let other streams' cells join
            batch, self._pending, self._pending_cells = self._pending, [], 0
            inputs = np.concatenate([cells for cells, _ in batch])
            # The streams send inked cells in powers of two (`stream.recognize_grids`).
            padded = padded_size(len(inputs))
            padded_inputs = np.zeros((padded, *inputs.shape[1:]), np.float32)
            padded_inputs[: len(inputs)] = inputs
            start = time.perf_counter()
            try:
                probabilities = await asyncio.to_thread(self.recognizer.recognize, padded_inputs)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting stream
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.busy_s += time.perf_counter() - start
            self.calls += 1
            self.cells += padded
            offset = 0
            for cells, future in batch:
                if not future.done():
                    future.set_result(probabilities[offset : offset + len(cells)])
                offset += len(cells)

    async def stats(self) -> dict[str, float]:
        """Model calls, cells and busy seconds so far."""
        return {"calls": self.calls, "cells": self.cells, "busy_s": self.busy_s}


class _RemoteRecognizer:
    """A `DigitRecognizer` look-alike whose `recognize` asks a `RecognizerServer` actor."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def recognize(self, cells: np.ndarray) -> np.ndarray:
        import ray

        return ray.get(self.server.recognize.remote(np.ascontiguousarray(cells)))


@dataclass(frozen=True)
class _StreamResult:
    name: str
    source: str
    summary: Any  # RunSummary | None
    error: str | None
    exit_code: int


class StreamWorker:
    """Runs one stream at a time with the model of a `RecognizerServer`; its tracker and
    stabiliser live here, so a stream's frames stay in order."""

    def __init__(self, config: Config, server: Any) -> None:
        from .grid import GridFinder
        from .pipeline.control import budget_threads
        from .reader import SudokuReader

        self.config = config
        budget_threads(config.pipeline)
        self.reader = SudokuReader(GridFinder(config.grid), _RemoteRecognizer(server))
        self._pipeline = None
        self._lock = threading.Lock()

    def ready(self) -> bool:
        """Warm the kernels and the model path; True once the worker can take streams."""
        self.reader.warm_up()
        return True

    def run(self, job: StreamJob, settings: PipelineSettings) -> _StreamResult:
        """Run one stream to its end; its summary, or its error for people."""
        from .pipeline.jobs import clear_complete, mark_complete
        from .pipeline.video import RunOutputs, open_stream

        clear_complete(job)
        outputs = RunOutputs(video_path=job.video_path, jsonl_path=job.jsonl_path)
        pipeline = None
        try:
            pipeline = open_stream(
                job.source,
                self.reader,
                settings,
                outputs,
                self.config.stabilize,
                tracking=self.config.tracking,
            )
            with self._lock:
                self._pipeline = pipeline
            summary = pipeline.run()
        except StreamOCRError as exc:
            partial = pipeline.partial_summary() if pipeline is not None else None
            return _StreamResult(job.name, job.source, partial, str(exc), exc.exit_code)
        finally:
            with self._lock:
                self._pipeline = None
        if summary.stopped_by is None:
            mark_complete(job, summary.frames_out)
        return _StreamResult(job.name, job.source, summary, None, 0)

    def frames_out(self) -> int:
        """Frames written so far by the stream being run (for the progress bar)."""
        with self._lock:
            return self._pipeline.frames_out if self._pipeline is not None else 0

    def stop(self, reason: str) -> None:
        """Stop the stream being run (it finishes its frames in flight)."""
        with self._lock:
            if self._pipeline is not None:
                self._pipeline.stop(reason)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("--cluster needs Ray: pip install 'streamocr[cluster]'") from None
    return ray


def connect(address: str, num_cpus: int | None = None) -> bool:
    """Connect this process to Ray: ``local`` starts a cluster for this run (on loopback),
    ``auto`` joins the running one (``RAY_ADDRESS`` or the last ``ray start`` here), any
    other value is the head node's address. Returns whether this call started Ray (and so
    should shut it down). Already connected: nothing is done.

    Raises:
        ClusterError: Ray is missing, or the cluster cannot be reached (or refused the
            token).
    """
    if address == "local":
        # Keep a one-machine cluster on loopback: Ray reads this when it is imported, and
        # would otherwise bind the host's network interface.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = _import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "configure_logging": False,
    }
    if address == "local":
        kwargs["address"] = "local"
        kwargs["num_cpus"] = num_cpus
    elif address == "auto":
        kwargs["address"] = os.environ.get("RAY_ADDRESS") or "auto"
    else:
        _check_reachable(address)
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; one line for people
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot start or join the Ray cluster {address!r}: {text}") from None
    return True


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail at once on a head address that does not answer (Ray retries for minutes)."""
    import socket

    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return  # a Ray Client address or a name Ray resolves itself
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterError(f"cannot reach the Ray head at {address}: {reason}") from None


def _recognizer_count(ray) -> tuple[int, bool]:
    """How many recognizer servers: one per GPU, else one per alive node."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus:
        return gpus, True
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return max(1, nodes), False


def run_on_cluster(
    jobs: list[StreamJob],
    config: Config,
    address: str,
    max_streams: int = 4,
    settings: PipelineSettings | None = None,
    skipped: list[StreamJob] | None = None,
    progress: bool = False,
) -> MultiSummary:
    """Run `jobs` on Ray; return each stream's outcome and the totals, as the one-process
    runner does (the wall time counts from when the actors are up).

    Raises:
        ClusterError: Ray is missing or the cluster cannot be reached.
    """
    from .pipeline.control import stop_on_signals
    from .pipeline.multi import MultiSummary, StreamOutcome
    from .pipeline.progress import FilesProgress

    settings = settings or config.pipeline
    n_workers = max(1, min(max_streams, len(jobs)))
    started = connect(address, num_cpus=max(os.cpu_count() or 1, n_workers + 1))
    ray = _import_ray()
    outcomes: dict[str, StreamOutcome] = {
        job.name: StreamOutcome(job.name, job.source, skipped=True) for job in skipped or []
    }
    servers: list[Any] = []
    workers: list[Any] = []
    try:
        n_servers, on_gpu = _recognizer_count(ray)
        server_options: dict[str, Any] = {"scheduling_strategy": "SPREAD"}
        server_options.update({"num_gpus": 1, "num_cpus": 0} if on_gpu else {"num_cpus": 1})
        server_class = ray.remote(RecognizerServer).options(**server_options)
        servers = [server_class.remote(config) for _ in range(n_servers)]
        # max_concurrency 2: `frames_out` and `stop` answer while `run` works.
        worker_class = ray.remote(StreamWorker).options(num_cpus=1, max_concurrency=2)
        workers = [worker_class.remote(config, servers[i % n_servers]) for i in range(n_workers)]
        try:
            ray.get([worker.ready.remote() for worker in workers])
        except Exception as exc:  # noqa: BLE001 - e.g. the model cannot load on a node
            raise ClusterError(
                f"the cluster's workers could not start: {_first_line(exc)}"
            ) from None
        driver = _Driver(ray, workers, settings)
        bar = FilesProgress(len(jobs)) if progress else None
        start = time.monotonic()
        with stop_on_signals(driver):
            results = driver.run(jobs, bar)
        wall_s = time.monotonic() - start
        for job, result in results.items():
            outcomes[job] = result
        stats = ray.get([server.stats.remote() for server in servers])
    finally:
        for actor in workers + servers:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - the actor is gone already
                pass
        if started:
            ray.shutdown()
    order = [job.name for job in skipped or []] + [job.name for job in jobs]
    streams = [outcomes[name] for name in order if name in outcomes]
    for job in jobs:
        if job.name not in outcomes:
            streams.append(StreamOutcome(job.name, job.source, error="not run"))
    return MultiSummary(
        streams=streams,
        wall_s=wall_s,
        model_calls=int(sum(s["calls"] for s in stats)),
        model_ms=1000.0 * sum(s["busy_s"] for s in stats),
        cells=int(sum(s["cells"] for s in stats)),
        stopped_by=driver.stopped_by,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


class _Driver:
    """Hands jobs to free stream workers, at most one stream each, and collects results."""

    def __init__(self, ray: Any, workers: list[Any], settings: PipelineSettings) -> None:
        self.ray = ray
        self.free = list(workers)
        self.settings = settings
        self.running: dict[Any, tuple[Any, StreamJob]] = {}
        self.stopped_by: str | None = None

    def stop(self, reason: str = "request") -> None:
        """Start no more streams; the running ones finish their frames in flight."""
        self.stopped_by = self.stopped_by or reason
        for worker, _ in list(self.running.values()):
            worker.stop.remote(reason)

    def run(self, jobs: list[StreamJob], bar: Any) -> dict[str, Any]:
        from .pipeline.multi import StreamOutcome

        ray = self.ray
        pending = list(jobs)
        outcomes: dict[str, StreamOutcome] = {}
        frames_done = 0
        last_progress = 0.0
        while self.running or (pending and self.stopped_by is None):
            while pending and self.free and self.stopped_by is None:
                worker = self.free.pop(0)
                job = pending.pop(0)
                self.running[worker.run.remote(job, self.settings)] = (worker, job)
            ready, _ = ray.wait(list(self.running), num_returns=1, timeout=_POLL_S)
            for ref in ready:
                worker, job = self.running.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - the worker died: report the stream
                    outcomes[job.name] = StreamOutcome(
                        job.name,
                        job.source,
                        error=f"worker failed: {_first_line(exc)}",
                        exit_code=ClusterError.exit_code,
                    )
                    continue  # a dead worker is not reused
                outcomes[job.name] = StreamOutcome(
                    result.name, result.source, result.summary, result.error, result.exit_code
                )
                if result.summary is not None:
                    frames_done += result.summary.frames_out
                self.free.append(worker)
                if bar is not None:
                    bar.file_done()
            if bar is not None and time.monotonic() - last_progress >= 1.0:
                busy = [w.frames_out.remote() for w, _ in self.running.values()]
                try:
                    in_flight = sum(ray.get(busy, timeout=1.0))
                except Exception:  # noqa: BLE001 - progress only
                    in_flight = 0
                bar.update(frames_done + in_flight)
                last_progress = time.monotonic()
            if not self.free and not self.running:
                break  # every worker died
        if bar is not None:
            bar.update(frames_done)
            bar.close()
        return outcomes
