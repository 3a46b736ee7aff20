"""Soak benchmark: a long run of a live-paced source, memory and latency sampled throughout.

A synthetic live camera replays a generated clip (a printed puzzle that leaves the view in
its middle third and comes back) at a fixed frame rate for `--frames` frames; the pipeline
runs with its live policy (short queues, the oldest frames dropped when it falls behind),
writes the annotated MP4 and counts every JSON-lines record. A sampler thread records the
process's resident memory (RSS) each second; every frame's end-to-end latency is kept in a
preallocated array, so the measurement itself does not grow.

Reported (printed, written to ``bench/soak.json`` and to a section of ``bench/RESULTS.md``):
frames in, out and dropped; the memory slope per 1,000 frames after the warm-up (a least
squares line through the samples after the first 10% of the run); p50/p95 latency of the
first 10% of frames against the last 10%.

Run: ``make soak`` or ``python -m bench.soak --frames 100000 --fps 60``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from streamocr.config import load_config
from streamocr.grid import GridFinder
from streamocr.pipeline import VideoPipeline
from streamocr.reader import SudokuReader
from streamocr.recognize import DigitRecognizer
from streamocr.sinks import VideoFileSink
from streamocr.sources import SourceInfo, VideoSource
from streamocr.synth.clips import build_kind_clip
from streamocr.types import Frame

RESULTS = Path(__file__).parent / "RESULTS.md"
REPO = Path(__file__).resolve().parent.parent
SECTION_START = "<!-- soak:start -->"
SECTION_END = "<!-- soak:end -->"


class PacedSource(VideoSource):
    """A live source that replays `images` in a loop at `fps`, like a camera.

    Frame i is handed out at ``start + i / fps`` (at once when the reader is late: the
    pipeline's drop policy, not the source, sheds the load). Each frame is a fresh copy,
    as a decoder would allocate one.
    """

    def __init__(self, images: list[np.ndarray], fps: float, frames: int) -> None:
        super().__init__()
        self.images = images
        self.fps = fps
        self.total = frames
        height, width = images[0].shape[:2]
        self.info = SourceInfo(
            name="soak",
            kind="stream",
            width=width,
            height=height,
            fps=Fraction(fps).limit_denominator(1000),
            time_base=Fraction(1, 90000),
        )

    def frames(self) -> Iterator[Frame]:
        """Yield `frames` frames at the source's pace, or until stopped."""
        start = time.monotonic()
        for index in range(self.total):
            if self._stop.is_set():
                break
            due = start + index / self.fps
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            image = self.images[index % len(self.images)].copy()
            yield Frame(image, index, index / self.fps, self.info.name)
        self.state = "ended"


class LatencyRecorder:
    """A JSON-lines stand-in that keeps each record's latency in a preallocated array."""

    def __init__(self, frames: int) -> None:
        self.latency_ms = np.full(frames, np.nan, np.float32)
        self.count = 0
        self.bytes = 0

    def write(self, record: dict) -> None:
        """Keep the record's latency (and its JSON size, so it is serialised as in a run)."""
        self.bytes += len(json.dumps(record, separators=(",", ":"))) + 1
        if self.count < len(self.latency_ms):
            self.latency_ms[self.count] = record["latency_ms"]
        self.count += 1

    def close(self) -> None:
        """Nothing to close."""


def rss_mib() -> float:
    """The resident memory of this process, in MiB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class MemorySampler(threading.Thread):
    """Samples (seconds, frames in, frames out, RSS MiB) every `period_s`."""

    def __init__(self, pipeline: VideoPipeline, period_s: float = 1.0) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.pipeline = pipeline
        self.period_s = period_s
        self.samples: list[tuple[float, int, int, float]] = []
        self._done = threading.Event()
        self._start = time.monotonic()

    def run(self) -> None:
        """Sample until `finish()`."""
        while not self._done.wait(self.period_s):
            self.sample()

    def sample(self) -> None:
        """Take one sample now."""
        p = self.pipeline
        self.samples.append((time.monotonic() - self._start, p.frames_in, p.frames_out, rss_mib()))

    def finish(self) -> None:
        """Stop sampling (after one last sample)."""
        self._done.set()
        self.join()
        self.sample()


def load_frames(kind: str, frames: int, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    """Generate a clip of `kind` and decode it to BGR arrays."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "soak.mp4"
        build_kind_clip(path, kind, frames, size, seed=seed)
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def summarise(
    samples: list[tuple[float, int, int, float]],
    latency_ms: np.ndarray,
    frames_in: int,
    frames_out: int,
    dropped: int,
    wall_s: float,
) -> dict:
    """The soak's figures from the samples and the latencies."""
    table = np.asarray(samples, np.float64)
    warm = table[table[:, 1] >= 0.1 * max(frames_in, 1)]
    slope = slope_out = float("nan")
    if len(warm) >= 2 and np.ptp(warm[:, 1]) > 0:
        slope = float(np.polyfit(warm[:, 1] / 1000.0, warm[:, 3], 1)[0])
    if len(warm) >= 2 and np.ptp(warm[:, 2]) > 0:
        slope_out = float(np.polyfit(warm[:, 2] / 1000.0, warm[:, 3], 1)[0])
    latencies = latency_ms[: min(frames_out, len(latency_ms))]
    latencies = latencies[np.isfinite(latencies)]
    tenth = max(1, len(latencies) // 10)
    first, last = latencies[:tenth], latencies[-tenth:]

    def pct(values: np.ndarray, q: float) -> float:
        return float(np.percentile(values, q)) if values.size else float("nan")

    return {
        "frames_in": frames_in,
        "frames_out": frames_out,
        "dropped": dropped,
        "wall_s": round(wall_s, 1),
        "fps_out": round(frames_out / wall_s, 2) if wall_s > 0 else 0.0,
        "rss_start_mib": round(float(table[0, 3]), 1) if len(table) else None,
        "rss_after_warmup_mib": round(float(warm[0, 3]), 1) if len(warm) else None,
        "rss_end_mib": round(float(table[-1, 3]), 1) if len(table) else None,
        "rss_peak_mib": round(float(table[:, 3].max()), 1) if len(table) else None,
        "rss_slope_mib_per_1000_frames": round(slope, 4),
        "rss_slope_mib_per_1000_frames_out": round(slope_out, 4),
        "latency_first10_p50_ms": round(pct(first, 50), 1),
        "latency_first10_p95_ms": round(pct(first, 95), 1),
        "latency_last10_p50_ms": round(pct(last, 50), 1),
        "latency_last10_p95_ms": round(pct(last, 95), 1),
        "samples": len(table),
    }


def report_lines(figures: dict, args: argparse.Namespace) -> list[str]:
    """The RESULTS.md section."""
    f = figures
    return [
        SECTION_START,
        "## Soak (`make soak`)",
        "",
        f"`python -m bench.soak --frames {args.frames} --fps {args.fps:g} --size {args.size}` "
        f"on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} CPU cores (load average over the last 15 minutes of the run: "
        f"{os.getloadavg()[2]:.1f}): a live-paced "
        f"synthetic camera ({args.kind} clip of {args.clip_frames} frames, looped), live "
        "policy (the oldest frames dropped when the pipeline falls behind), annotated MP4 "
        "and per-frame records written.",
        "",
        "| what | result |",
        "| --- | --- |",
        f"| frames in / out / dropped | {f['frames_in']} / {f['frames_out']} / {f['dropped']} |",
        f"| wall time | {f['wall_s'] / 60:.1f} min ({f['fps_out']} fps out) |",
        f"| RSS start / after warm-up (10%) / end / peak | {f['rss_start_mib']} / "
        f"{f['rss_after_warmup_mib']} / {f['rss_end_mib']} / {f['rss_peak_mib']} MiB |",
        f"| RSS slope after warm-up | {f['rss_slope_mib_per_1000_frames']:+.3f} MiB "
        f"per 1,000 frames in, {f['rss_slope_mib_per_1000_frames_out']:+.3f} MiB per 1,000 "
        "frames processed |",
        f"| latency first 10% of frames: p50 / p95 | {f['latency_first10_p50_ms']} / "
        f"{f['latency_first10_p95_ms']} ms |",
        f"| latency last 10% of frames: p50 / p95 | {f['latency_last10_p50_ms']} / "
        f"{f['latency_last10_p95_ms']} ms |",
        SECTION_END,
    ]


def _shown(value: object) -> str:
    """An argument as recorded in soak.json: a path inside the checkout relative to it, so
    the file names no machine's folders."""
    if isinstance(value, Path):
        try:
            return str(value.resolve().relative_to(REPO))
        except ValueError:
            return str(value)
    return str(value)


def write_section(lines: list[str], path: Path = RESULTS) -> None:
    """Replace the soak section of RESULTS.md (or append it), leaving the rest alone."""
    text = path.read_text() if path.exists() else ""
    section = "\n".join(lines)
    if SECTION_START in text and SECTION_END in text:
        before, _, rest = text.partition(SECTION_START)
        _, _, after = rest.partition(SECTION_END)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Run the soak and report it."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--frames", type=int, default=100_000, help="frames the source sends")
    parser.add_argument("--fps", type=float, default=60.0, help="the source's frame rate")
    parser.add_argument("--size", default="320x240", help="frame size WxH")
    parser.add_argument("--kind", default="printed", help="synthetic clip kind to loop")
    parser.add_argument("--clip-frames", type=int, default=300, help="frames in the loop")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--video", type=Path, help="annotated MP4 (default: a temp file)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "soak.json")
    parser.add_argument(
        "--no-report", action="store_true", help="do not write the bench/RESULTS.md section"
    )
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    images = load_frames(args.kind, args.clip_frames, (width, height), args.seed)
    config = load_config(None, ["recognition.device=cpu"])
    reader = SudokuReader(
        GridFinder(config.grid),
        DigitRecognizer(config.recognition.model, "cpu", config.recognition.threads),
    )
    source = PacedSource(images, args.fps, args.frames)
    recorder = LatencyRecorder(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        video_path = args.video or Path(tmp) / "soak.mp4"
        video = VideoFileSink(video_path, width, height, source.info.fps, start_at_zero=True)
        pipeline = VideoPipeline(
            source,
            reader,
            config.pipeline,
            video=video,
            jsonl=recorder,
            stabilize=config.stabilize,
            tracking=config.tracking,
        )
        sampler = MemorySampler(pipeline)
        sampler.start()
        start = time.monotonic()
        try:
            summary = pipeline.run()
        finally:
            sampler.finish()
        wall_s = time.monotonic() - start
    figures = summarise(
        sampler.samples,
        recorder.latency_ms,
        summary.frames_in,
        summary.frames_out,
        summary.dropped,
        wall_s,
    )
    figures["args"] = {k: _shown(v) for k, v in vars(args).items()}
    figures["rss_samples"] = [
        [round(t, 1), fi, fo, round(r, 1)] for t, fi, fo, r in sampler.samples
    ]
    args.json.write_text(json.dumps(figures, indent=1) + "\n")
    lines = report_lines(figures, args)
    print("\n".join(lines[1:-1]))
    if not args.no_report:
        write_section(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
