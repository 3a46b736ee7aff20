"""Frame throughput of `streamocr run` against decoding alone, on the built-in sample clip."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import av

from streamocr.config import load_config
from streamocr.pipeline import RunOutputs, run_video
from streamocr.reader import SudokuReader
from streamocr.samples import sample_clip


def decode_only_fps(path: Path) -> tuple[int, float]:
    """Frames and frames per second when the clip is only decoded to BGR arrays."""
    start = time.perf_counter()
    frames = 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="bgr24")
            frames += 1
    return frames, frames / (time.perf_counter() - start)


def bench_pipeline() -> list[tuple[str, str]]:
    """Rows: decode-only fps, pipeline fps with and without outputs, and their ratios."""
    clip = sample_clip()
    config = load_config(None, ["recognition.device=cpu"])
    reader = SudokuReader()
    frames, decode_fps = decode_only_fps(clip)
    rows = [(f"decode only, sample clip ({frames} frames)", f"{decode_fps:.1f} fps")]
    bare = run_video(str(clip), reader, config.pipeline, RunOutputs())
    rows.append(
        (
            "streamocr run, no outputs",
            f"{bare.fps:.1f} fps = {bare.fps / decode_fps:.3f} x decode-only; "
            f"latency p50 {bare.latency_p50_ms:.0f} ms, p95 {bare.latency_p95_ms:.0f} ms",
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        outputs = RunOutputs(
            video_path=str(Path(tmp) / "a.mp4"), jsonl_path=str(Path(tmp) / "f.jsonl")
        )
        full = run_video(str(clip), reader, config.pipeline, outputs)
    rows.append(
        (
            "streamocr run --out a.mp4 --jsonl f.jsonl",
            f"{full.fps:.1f} fps = {full.fps / decode_fps:.3f} x decode-only; frames in "
            f"{full.frames_in}, out {full.frames_out}, dropped {full.dropped}",
        )
    )
    for stage, fps in full.stage_fps.items():
        rows.append((f"stage {stage} (with outputs)", f"{fps:.1f} fps"))
    return rows
