"""Frame throughput: `streamocr bench`, the pipeline against decoding alone, in one run.

On a file, the same clip is decoded to BGR arrays alone (PyAV, no processing), decoded and
encoded again with the annotated video's encoder (the floor of `--out`), and run through
the pipeline with JSON lines only and with JSON lines and `--out`; the ratios of the
pipeline's frames per second to those floors are measured within the run, so the
machine's load cancels out. Start-up (model loading, compiled kernels) is not counted: the
pipeline warms up before its clock starts. On a live source the pipeline runs for a fixed
time and reports frames processed and dropped and the latency from decode to output.

Example:
    >>> report = bench_file("clip.mp4")
    >>> print("\\n".join(report_lines(report)))
"""

from __future__ import annotations

import os
import platform
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
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

    return {
        "pipeline_stages": 4,
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
    opened = open_source(
        source,
        **settings.source_options(),
    )
    pipeline = VideoPipeline(
        opened, reader, settings, stabilize=config.stabilize, tracking=config.tracking
    )
    timer = threading.Timer(seconds, pipeline.stop, args=("time",))
    reader.warm_up()  # the clock starts with the stream, after loading
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


def report_lines(report: dict[str, Any]) -> list[str]:
    """A human summary of a `bench_file` or `bench_live` report."""
    lines = [f"source: {report['source']}"]
    if "decode_fps" in report:
        bare = report["pipeline"]
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
