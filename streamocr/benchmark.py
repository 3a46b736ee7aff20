"""Frame throughput: `streamocr bench`, the pipeline against decoding alone, in one run.

On a file, the same clip is decoded to BGR arrays alone (PyAV, no processing), decoded and
encoded again with the annotated video's encoder (the floor of `--out`), and run through
the pipeline with JSON lines only and with JSON lines and `--out`; the ratios of the
pipeline's frames per second to those floors are measured within the run, so the
machine's load cancels out. Start-up (model loading, compiled kernels) is not counted: the
pipeline warms up before its clock starts. On a live source the pipeline runs for a fixed
time and reports frames processed and dropped and the latency from decode to output.

With ``--streams N ...`` (`bench_streams`), N copies of a file run at once in one process
with the shared, batched model (what ``streamocr run SRC... --out-dir DIR`` does), each N in
a fresh process of its own (so its peak memory is its own), against the same file read alone
in that process just after: aggregate frames per second, the ratio, model calls with their
milliseconds and cells, and peak memory per extra stream.

Example:
    >>> report = bench_file("clip.mp4")
    >>> print("\\n".join(report_lines(report)))
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .errors import InputError, StreamOCRError
from .reader import SudokuReader


def machine() -> dict[str, Any]:
    """The machine and the cores this process may use."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    return {
        "cpu": model,
        "cpu_count": os.cpu_count(),
        "cores_used": usable,
        "python": platform.python_version(),
    }


def threads_used(config: Config) -> dict[str, Any]:
    """The thread counts the run gives each library."""
    import numba

    from .pipeline.video import SEARCH_AHEAD

    return {
        "pipeline_stages": 4,
        # The full grid search's own thread: a file's searches started ahead of the
        # tracker, a live source's in the background.
        "search": int(
            config.stabilize.enabled and bool(config.tracking.background_search or SEARCH_AHEAD)
        ),
        "opencv": config.pipeline.cv_threads,
        "numba": min(config.pipeline.cv_threads, numba.get_num_threads()),
        "onnxruntime": config.recognition.threads,
        "decoder": config.pipeline.decoder_threads or "auto",
    }


def decode_only_fps(path: str | Path) -> tuple[int, float, float]:
    """Frames, frames per second and CPU milliseconds per frame when the file is only
    decoded to BGR arrays (PyAV)."""
    import av

    start, cpu = time.perf_counter(), time.process_time()
    frames = 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="bgr24")
            frames += 1
    cpu_ms = 1000.0 * (time.process_time() - cpu) / max(frames, 1)
    return frames, frames / (time.perf_counter() - start), cpu_ms


def decode_encode_fps(path: str | Path) -> float:
    """Frames per second of decoding to BGR and encoding again as `--out` does (its encoder
    and settings, `VideoFileSink`), with no processing between."""
    import av

    from .sinks import VideoFileSink

    with tempfile.TemporaryDirectory() as tmp, av.open(str(path)) as container:
        stream = container.streams.video[0]
        sink = VideoFileSink(
            Path(tmp) / "copy.mp4",
            stream.codec_context.width,
            stream.codec_context.height,
            stream.average_rate or Fraction(30),
            time_base=stream.time_base,
        )
        time_base = stream.time_base or Fraction(1, 90000)
        start = time.perf_counter()
        frames = 0
        try:
            for frame in container.decode(video=0):
                pts_s = float(frame.pts * time_base) if frame.pts is not None else 0.0
                sink.write(frame.to_ndarray(format="bgr24"), pts_s)
                frames += 1
        finally:
            sink.close()
        return frames / (time.perf_counter() - start)


def model_ms(reader: SudokuReader, grids: int = 1, repeat: int = 30) -> float:
    """Median milliseconds of one model call on `grids` x 81 cells."""
    cells = np.random.default_rng(0).random((81 * grids, 1, 28, 28), dtype=np.float32)
    reader.recognizer.recognize(cells)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        reader.recognizer.recognize(cells)
        samples.append(1000.0 * (time.perf_counter() - start))
    return float(np.median(samples))


def _summary_fields(summary, cpu_s: float | None = None) -> dict[str, Any]:
    cpu_ms = None if cpu_s is None else 1000.0 * cpu_s / max(summary.frames_out, 1)
    return {
        "cpu_ms_per_frame": _round(cpu_ms, 2),
        "frames_in": summary.frames_in,
        "frames_out": summary.frames_out,
        "dropped": summary.dropped,
        "fps": round(summary.fps, 2),
        "latency_p50_ms": _round(summary.latency_p50_ms),
        "latency_p95_ms": _round(summary.latency_p95_ms),
        "stage_ms": {k: [round(v[0], 2), round(v[1], 2)] for k, v in summary.stage_ms.items()},
        "model_calls": summary.model_calls,
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def bench_file(
    path: str | Path,
    config: Config | None = None,
    reader: SudokuReader | None = None,
    with_outputs: bool = True,
) -> dict[str, Any]:
    """Decode-only, decode + encode and pipeline frame rates of one file, in one run.

    Returns:
        A JSON-ready report: ``decode_fps``, ``pipeline`` (JSON lines only) and
        ``pipeline_out`` (with ``--out``) with their fps, latency and per-stage ms per frame
        (p50, p95), ``ratio`` (pipeline / decode-only), ``ratio_out`` (with outputs /
        decode + encode), ``model_ms``, ``threads`` and ``machine``.
    """
    from .pipeline import RunOutputs, run_video
    from .sources import open_source

    config = config or Config()
    open_source(str(path)).close()  # a missing or broken file: a SourceError, one clear line
    reader = reader or SudokuReader.from_config(config)
    reader.warm_up()
    frames, decode_fps, decode_cpu_ms = decode_only_fps(path)
    report: dict[str, Any] = {
        "source": str(path),
        "frames": frames,
        "decode_fps": round(decode_fps, 1),
        "decode_cpu_ms_per_frame": round(decode_cpu_ms, 2),
    }
    with tempfile.TemporaryDirectory() as tmp:
        outputs = RunOutputs(jsonl_path=str(Path(tmp) / "f.jsonl"))
        cpu = time.process_time()
        bare = run_video(str(path), reader, config.pipeline, outputs, config.stabilize)
        report["pipeline"] = _summary_fields(bare, time.process_time() - cpu)
        report["ratio"] = round(bare.fps / decode_fps, 3)
        # CPU time per frame does not depend on how busy the machine is: decoding's share
        # of the pipeline's CPU time is the ratio a quiet machine of one core would show.
        report["cpu_ratio"] = round(decode_cpu_ms / report["pipeline"]["cpu_ms_per_frame"], 3)
        if with_outputs:
            encode_fps = decode_encode_fps(path)
            outputs = RunOutputs(
                video_path=str(Path(tmp) / "a.mp4"), jsonl_path=str(Path(tmp) / "f.jsonl")
            )
            cpu = time.process_time()
            full = run_video(str(path), reader, config.pipeline, outputs, config.stabilize)
            report["decode_encode_fps"] = round(encode_fps, 1)
            report["pipeline_out"] = _summary_fields(full, time.process_time() - cpu)
            report["ratio_out"] = round(full.fps / encode_fps, 3)
    report["model_ms"] = {"81 cells": round(model_ms(reader, 1), 2)}
    report["model_ms"]["4 x 81 cells"] = round(model_ms(reader, 4), 2)
    report["threads"] = threads_used(config)
    report["machine"] = machine()
    return report


def bench_live(
    source: str,
    seconds: float,
    config: Config | None = None,
    reader: SudokuReader | None = None,
) -> dict[str, Any]:
    """Run the pipeline on a live source for `seconds`; frames processed, dropped, latency."""
    from .pipeline import VideoPipeline, budget_threads
    from .sources import open_source

    config = config or Config()
    reader = reader or SudokuReader.from_config(config)
    settings = config.pipeline
    budget_threads(settings)
    reader.warm_up()  # before the stream opens: it sends from then on
    opened = open_source(
        source,
        **settings.source_options(),
    )
    pipeline = VideoPipeline(
        opened, reader, settings, stabilize=config.stabilize, tracking=config.tracking
    )
    timer = threading.Timer(seconds, pipeline.stop, args=("time",))
    timer.start()
    try:
        summary = pipeline.run()
    finally:
        timer.cancel()
    fields = _summary_fields(summary)
    handled = summary.frames_out + summary.dropped
    return {
        "source": source,
        "seconds": seconds,
        "live": opened.info.live,
        "size": [opened.info.width, opened.info.height],
        "fps_nominal": float(opened.info.fps) if opened.info.fps else None,
        "processed_share": round(summary.frames_out / handled, 4) if handled else None,
        **fields,
        "threads": threads_used(config),
        "machine": machine(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (0.0 where /proc has no VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def stream_run(
    mode: str,
    files: list[str],
    out_dir: str | Path,
    video: bool,
    config: Config | None = None,
    reader: SudokuReader | None = None,
) -> dict[str, Any]:
    """One measurement of several files, in this process.

    Args:
        mode: ``single``: the files one after another, each with its own pipeline
            (``streamocr run FILE``); ``multi``: all at once with one shared, batched model
            (``streamocr run FILE... --out-dir DIR``); ``cluster``: the same on a local Ray
            cluster (``--cluster local``).
        files: the sources; the same path may come more than once (outputs ``<stem>``,
            ``<stem>-2`` ...).
        out_dir: where the JSON lines (and with `video` the MP4s) go.

    Returns:
        ``frames`` (of all files), ``wall_s`` (from opening the first file to closing the
        last output; model loading and warm-up not counted), ``fps`` (frames / wall_s),
        ``model_calls``; for multi and cluster also ``model_ms`` and ``cells`` (per call),
        ``failed`` and ``errors`` (streams that failed, one line each); ``peak_rss_mb``: this
        process's peak memory so far.
    """
    from .pipeline.jobs import plan_jobs
    from .pipeline.video import RunOutputs, run_video

    config = config or Config()
    jobs = plan_jobs([str(f) for f in files], out_dir, video=video)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"mode": mode, "streams": len(jobs)}
    if mode in ("single", "multi"):
        reader = reader or SudokuReader.from_config(config)
    if mode == "single":
        assert reader is not None
        reader.warm_up()
        start = time.monotonic()
        frames = calls = 0
        for job in jobs:
            outputs = RunOutputs(video_path=job.video_path, jsonl_path=job.jsonl_path)
            alone = run_video(
                job.source,
                reader,
                config.pipeline,
                outputs,
                config.stabilize,
                tracking=config.tracking,
            )
            frames += alone.frames_out
            calls += alone.model_calls
        wall_s = time.monotonic() - start
        result.update(frames=frames, wall_s=wall_s, fps=frames / wall_s, model_calls=calls)
    elif mode in ("multi", "cluster"):
        if mode == "multi":
            from .pipeline.multi import MultiStreamRunner

            assert reader is not None
            runner = MultiStreamRunner(
                jobs,
                reader,
                config.pipeline,
                config.stabilize,
                max_open=len(jobs),
                tracking=config.tracking,
            )
            summary = runner.run()
            result["providers"] = list(reader.recognizer.providers)
        else:
            from .cluster import run_on_cluster

            start = time.monotonic()
            summary = run_on_cluster(jobs, config, "local", max_streams=len(jobs))
            result["total_s"] = time.monotonic() - start
        result.update(
            frames=summary.frames_out,
            wall_s=summary.wall_s,
            fps=summary.fps,
            model_calls=summary.model_calls,
            model_ms=summary.model_ms_per_call,
            cells=summary.cells / max(1, summary.model_calls),
            failed=len(summary.failed),
            errors=[outcome.line() for outcome in summary.failed],
        )
    else:
        raise ValueError(f"mode must be single, multi or cluster, got {mode!r}")
    result["peak_rss_mb"] = peak_rss_mb()
    return result


_CHILD_CODE = (
    "import sys; from streamocr.benchmark import _child_main; sys.exit(_child_main(sys.argv[1]))"
)


def measure_streams(
    runs: list[tuple[str, list[str], str | Path]],
    video: bool,
    config: Config | None = None,
) -> list[dict[str, Any]]:
    """`stream_run` of each ``(mode, files, out_dir)`` in order, in one fresh process (one
    loaded model), so the first run's ``peak_rss_mb`` is its own peak and not this
    process's; a later run's is the peak of the process up to its end.

    Raises:
        StreamOCRError: a run failed (its message and exit code), or the process did.
    """
    spec = {
        "runs": [[mode, [str(f) for f in files], str(out)] for mode, files, out in runs],
        "video": video,
        "config": dataclasses.asdict(config or Config()),
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD_CODE, json.dumps(spec)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if done.returncode in (0, 1) and lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not ("results" in answer or "error" in answer):
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise StreamOCRError(f"benchmark process failed: {why}")
    if "error" in answer:
        error = StreamOCRError(answer["error"])
        error.exit_code = answer["exit_code"]
        raise error
    return answer["results"]


def _child_main(text: str) -> int:
    """The process `measure_streams` starts: run what `text` (JSON) asks, print one JSON
    line: ``{"results": [...]}``, or ``{"error": ..., "exit_code": ...}`` and exit 1."""
    from .config import _build

    spec = json.loads(text)
    try:
        config = _build(Config, spec["config"], "")
        reader = SudokuReader.from_config(config)
        results = [
            stream_run(mode, files, out, spec["video"], config, reader)
            for mode, files, out in spec["runs"]
        ]
    except StreamOCRError as exc:
        print(json.dumps({"error": str(exc), "exit_code": exc.exit_code}))
        return 1
    print(json.dumps({"results": results}))
    return 0


def bench_streams(
    path: str | Path,
    counts: list[int],
    config: Config | None = None,
    with_outputs: bool = True,
) -> dict[str, Any]:
    """N copies of one file at once in one process, for each N in `counts`.

    Each N runs in a fresh process: first the N copies at once with the shared, batched
    model (``streamocr run FILE... --out-dir DIR``, all N open together), then, in the same
    process, the file alone (``streamocr run FILE``) as the single-stream baseline taken
    within the same minute. Both rates are frames / total wall time of the run (from
    opening the first stream to closing the last output; model loading and warm-up not
    counted). JSON lines are written, and the MP4s too unless `with_outputs` is False.

    Returns:
        A JSON-ready report: ``source``, ``size``, ``frames`` (a stream), ``outputs``,
        ``streams`` (per N: ``fps`` aggregate, ``single_fps``, ``ratio``, ``frames``,
        ``wall_s``, ``model_calls``, ``model_ms_per_call``, ``cells_per_call``,
        ``peak_rss_mb``), ``rss_mb_per_extra_stream`` (peak RSS from the fewest to the most
        streams; None with one N), ``providers``, ``threads`` and ``machine``.

    Raises:
        InputError: a count below 1, or a source that is not a file.
        SourceError: the file cannot be opened.
    """
    from .sources import open_source, source_kind

    config = config or Config()
    counts = list(dict.fromkeys(counts))
    if not counts or min(counts) < 1:
        raise InputError(f"stream counts must be 1 or more, got {counts}")
    if source_kind(str(path)) != "file":
        raise InputError(f"streams of copies need a video file, not the live source {path}")
    opened = open_source(str(path))  # a missing or broken file: a SourceError, one clear line
    size = [opened.info.width, opened.info.height]
    opened.close()
    rows: list[dict[str, Any]] = []
    providers: list[str] = []
    with tempfile.TemporaryDirectory(prefix="streamocr-bench-") as tmp:
        for n in counts:
            multi, single = measure_streams(
                [
                    ("multi", [str(path)] * n, Path(tmp) / f"multi{n}"),
                    ("single", [str(path)], Path(tmp) / f"single{n}"),
                ],
                video=with_outputs,
                config=config,
            )
            if multi["failed"]:
                raise StreamOCRError(f"{n} streams: {multi['errors'][0]}")
            providers = multi["providers"]
            rows.append(
                {
                    "streams": n,
                    "fps": round(multi["fps"], 2),
                    "single_fps": round(single["fps"], 2),
                    "ratio": round(multi["fps"] / single["fps"], 3) if single["fps"] else None,
                    "frames": multi["frames"],
                    "single_frames": single["frames"],
                    "wall_s": round(multi["wall_s"], 2),
                    "model_calls": multi["model_calls"],
                    "model_ms_per_call": round(multi["model_ms"], 2),
                    "cells_per_call": round(multi["cells"], 1),
                    "peak_rss_mb": round(multi["peak_rss_mb"], 1),
                }
            )
    fewest = min(rows, key=lambda row: row["streams"])
    most = max(rows, key=lambda row: row["streams"])
    per_stream = None
    if most["streams"] > fewest["streams"] and fewest["peak_rss_mb"] and most["peak_rss_mb"]:
        grown = most["peak_rss_mb"] - fewest["peak_rss_mb"]
        per_stream = round(grown / (most["streams"] - fewest["streams"]), 1)
    return {
        "source": str(path),
        "size": size,
        "frames": rows[0]["single_frames"],
        "outputs": "JSON lines + MP4" if with_outputs else "JSON lines only",
        "fps_basis": "frames / total wall time, after model loading and warm-up",
        "streams": rows,
        "rss_mb_per_extra_stream": per_stream,
        "rss_streams": [fewest["streams"], most["streams"]],
        "providers": providers,
        "threads": threads_used(config),
        "machine": machine(),
    }


def _streams_lines(report: dict[str, Any]) -> list[str]:
    """The lines of a `bench_streams` report (without the threads line)."""
    width, height = report["size"]
    lines = [
        f"source: {report['source']} ({width}x{height}, {report['frames']} frames); N copies "
        f"at once in one process, one shared model; {report['outputs']}",
        "fps: frames of all streams / total wall time after warm-up; alone: the file by "
        "itself in the same process, just after",
    ]
    for row in report["streams"]:
        n = row["streams"]
        alone = f"the file alone {row['single_fps']:.1f} fps"
        if row["ratio"] is not None:
            alone = f"= {row['ratio']:.3f} x {alone}"
        lines.append(
            f"{n} stream{'s' if n > 1 else ''}: {row['fps']:.1f} fps aggregate {alone}; "
            f"model calls {row['model_calls']}, "
            f"{row['model_ms_per_call']:.1f} ms and {row['cells_per_call']:.0f} cells a call; "
            f"peak RSS {row['peak_rss_mb']:.0f} MB"
        )
    if report["rss_mb_per_extra_stream"] is not None:
        fewest, most = report["rss_streams"]
        lines.append(
            f"peak RSS per extra stream: {report['rss_mb_per_extra_stream']:.0f} MB "
            f"({fewest} -> {most} streams)"
        )
    lines.append(f"model providers: {', '.join(report['providers'])}")
    return lines


def report_lines(report: dict[str, Any]) -> list[str]:
    """A human summary of a `bench_file`, `bench_live` or `bench_streams` report."""
    runs: list[tuple[str, dict[str, Any]]] = []
    if "streams" in report:
        lines = _streams_lines(report)
    elif "decode_fps" in report:
        bare = report["pipeline"]
        lines = [f"source: {report['source']}"]
        lines.append(
            f"decode only (PyAV to BGR): {report['decode_fps']:.1f} fps, "
            f"{report['decode_cpu_ms_per_frame']:.2f} CPU ms per frame"
        )
        lines.append(
            f"pipeline, JSON lines only: {bare['fps']:.1f} fps = {report['ratio']:.3f} x "
            f"decode-only; {bare['cpu_ms_per_frame']:.2f} CPU ms per frame = "
            f"{report['cpu_ratio']:.3f} x decode-only by CPU time"
        )
        if "pipeline_out" in report:
            full = report["pipeline_out"]
            lines.append(
                f"decode + encode (the --out floor): {report['decode_encode_fps']:.1f} fps"
            )
            lines.append(
                f"pipeline with --out: {full['fps']:.1f} fps = "
                f"{report['ratio_out']:.3f} x decode + encode"
            )
        runs = [("JSON lines only", bare)]
        if "pipeline_out" in report:
            runs.append(("with --out", report["pipeline_out"]))
    else:
        share = report["processed_share"]
        lines = [f"source: {report['source']}"]
        lines.append(
            f"live for {report['seconds']:.0f} s: frames in {report['frames_in']}, processed "
            f"{report['frames_out']}, dropped {report['dropped']}"
            + ("" if share is None else f" ({100 * share:.1f}% processed)")
        )
        runs = [("live", report)]
    for name, run in runs:
        if run["latency_p50_ms"] is not None:
            lines.append(
                f"latency ({name}): p50 {run['latency_p50_ms']:.1f} ms, "
                f"p95 {run['latency_p95_ms']:.1f} ms"
            )
        stages = ", ".join(
            f"{stage} {p50:.2f}/{p95:.2f}" for stage, (p50, p95) in run["stage_ms"].items()
        )
        lines.append(f"stage ms per frame p50/p95 ({name}): {stages}")
    if "model_ms" in report:
        lines.append(
            "model ms per batch: "
            + ", ".join(f"{k} {v:.2f}" for k, v in report["model_ms"].items())
        )
    t, m = report["threads"], report["machine"]
    lines.append(
        "threads: "
        + ", ".join(f"{k} {v}" for k, v in t.items())
        + f"; cores used {m['cores_used']} of {m['cpu_count']} ({m['cpu']})"
    )
    return lines
