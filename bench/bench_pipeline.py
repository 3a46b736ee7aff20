"""Frame throughput of the pipeline against decoding alone: the sample clip, 720p and 1080p
clips made by the clip generator, and a live RTSP stream; min / median / max over repeats.

Each repeat is one `streamocr.benchmark.bench_file` run: decode-only, decode + encode and
the pipeline (JSON lines only, and with --out) on the same file, back to back, so the
ratios are measured within one run and the machine's load mostly cancels out.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from streamocr.benchmark import bench_file, bench_live
from streamocr.config import Config
from streamocr.reader import SudokuReader
from streamocr.samples import sample_clip
from streamocr.synth.clips import build_kind_clip

CLIP_DIR = Path(__file__).resolve().parent.parent / "out" / "bench-clips"
SIZES = ((1280, 720), (1920, 1080))
CLIP_FRAMES = 150  # 5 s at 30 fps: the grid in view, leaving it, coming back


def generated_clip(size: tuple[int, int], frames: int = CLIP_FRAMES, seed: int = 7) -> Path:
    """A hand-held printed-puzzle clip of `size` (made once, then reused)."""
    path = CLIP_DIR / f"printed_{size[0]}x{size[1]}_{frames}_s{seed}.mp4"
    if not path.is_file():
        CLIP_DIR.mkdir(parents=True, exist_ok=True)
        build_kind_clip(path, "printed", frames=frames, size=size, seed=seed)
    return path


def _spread(values: list[float], digits: int = 1) -> str:
    """min / median / max."""
    fmt = f"{{:.{digits}f}}"
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def file_rows(name: str, path: Path, repeats: int, reader: SudokuReader) -> list[tuple[str, str]]:
    """Rows of one file over `repeats` runs."""
    config = Config()
    reports = []
    for _ in range(repeats):
        reports.append(bench_file(path, config, reader))
        print(f"  {name}: ratio {reports[-1]['ratio']:.3f}", file=sys.stderr, flush=True)
    pick = lambda *keys: [_get(r, keys) for r in reports]  # noqa: E731
    frames = reports[0]["frames"]
    stages = reports[0]["pipeline"]["stage_ms"]
    return [
        (f"{name}: decode only, fps ({frames} frames)", _spread(pick("decode_fps"))),
        (f"{name}: pipeline, JSON lines only, fps", _spread(pick("pipeline", "fps"))),
        (f"{name}: ratio to decode-only (target >= 0.3)", _spread(pick("ratio"), 3)),
        (f"{name}: CPU ms per frame, decode-only", _spread(pick("decode_cpu_ms_per_frame"), 2)),
        (f"{name}: CPU ms per frame, pipeline", _spread(pick("pipeline", "cpu_ms_per_frame"), 2)),
        (f"{name}: ratio by CPU time", _spread(pick("cpu_ratio"), 3)),
        (f"{name}: decode + encode, fps", _spread(pick("decode_encode_fps"))),
        (f"{name}: pipeline with --out, fps", _spread(pick("pipeline_out", "fps"))),
        (f"{name}: ratio to decode + encode (target >= 0.5)", _spread(pick("ratio_out"), 3)),
        (
            f"{name}: latency p50 / p95, ms (JSON lines only, median run)",
            f"{statistics.median(pick('pipeline', 'latency_p50_ms')):.0f} / "
            f"{statistics.median(pick('pipeline', 'latency_p95_ms')):.0f}",
        ),
        (
            f"{name}: stage ms per frame p50 (JSON lines only, median run)",
            ", ".join(
                f"{stage} {statistics.median(r['pipeline']['stage_ms'][stage][0] for r in reports):.1f}"
                for stage in stages
            ),
        ),
    ]


def _get(report: dict, keys: tuple[str, ...]) -> float:
    value = report
    for key in keys:
        value = value[key]
    return float(value)


def live_rows(seconds: float, reader: SudokuReader) -> list[tuple[str, str]]:
    """Rows of a paced 30 fps RTSP stream (GStreamer's server, as the tests use) at 720p and
    1080p; none, with the reason, where the server cannot run."""
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    try:
        from rtsp_server import RtspServer, missing_reason
    finally:
        sys.path.remove(str(tests))
    reason = missing_reason()
    if reason is not None:
        return [("live RTSP", f"not run: {reason}")]
    import cv2

    from streamocr.synth.builders import place_in_scene, render_grid

    rows = []
    for width, height in SIZES:
        image = CLIP_DIR / f"live_{width}x{height}.png"
        CLIP_DIR.mkdir(parents=True, exist_ok=True)
        scene, _ = place_in_scene(render_grid(cell_px=64), (width, height), seed=3, noise=2.0)
        cv2.imwrite(str(image), scene)
        with RtspServer(image=image, fps=30) as server:
            report = bench_live(server.url, seconds, Config(), reader)
        share = report["processed_share"]
        rows.append(
            (
                f"live RTSP {width}x{height}, 30 fps, {seconds:.0f} s",
                f"frames in {report['frames_in']}, processed {report['frames_out']}, dropped "
                f"{report['dropped']} ({100 * (share or 0):.1f}% processed, target >= 97%); "
                f"latency p50 {report['latency_p50_ms']} ms, p95 {report['latency_p95_ms']} ms "
                "(targets <= 30 / 50 ms)",
            )
        )
    return rows


def bench_pipeline(repeats: int = 3, live_seconds: float = 30.0) -> list[tuple[str, str]]:
    """All the pipeline rows: the sample, 720p and 1080p clips, and the live stream."""
    reader = SudokuReader.from_config(Config())
    rows = file_rows("sample 640x480", sample_clip(), repeats, reader)
    for size in SIZES:
        rows += file_rows(f"{size[0]}x{size[1]}", generated_clip(size), repeats, reader)
    if live_seconds > 0:
        rows += live_rows(live_seconds, reader)
    return rows
