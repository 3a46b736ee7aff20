"""Several streams in one process (and on a local Ray cluster): aggregate fps, model ms per
batch and memory per stream, against the same files read one after another.

    python -m bench.bench_streams                      # N = 1, 2, 4, 8 streams of 720p
    python -m bench.bench_streams --repeat 3 --streams 4 --cluster

Each measurement runs in its own process (so its peak RSS is its own). The baseline reads
the same files one at a time, each with its own single-stream pipeline (`streamocr run
FILE`); the ratio ``multi fps / single fps`` is what the shared, batched model buys. With
``--cluster`` the 8-file run is repeated on a local Ray cluster, its fps counted once the
cluster is up, and its JSON lines compared with the one-process run's (latency aside).
The table goes to stdout and to ``--out`` (Markdown).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from streamocr.benchmark import measure_streams
from streamocr.errors import StreamOCRError

CLIP_DIR = Path(tempfile.gettempdir()) / "streamocr-bench-streams"


def make_clips(count: int, frames: int, size: tuple[int, int]) -> list[Path]:
    """`count` seeded clips (cached between runs)."""
    from streamocr.synth.clips import build_clip

    CLIP_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        path = CLIP_DIR / f"s{seed}_{size[0]}x{size[1]}_{frames}.mp4"
        if not path.is_file():
            build_clip(path, frames=frames, size=size, seed=seed + 1)
        paths.append(path)
    return paths


def measure(mode: str, files: list[Path], out_dir: Path, video: bool) -> dict:
    """Run one measurement in a fresh process (`streamocr.benchmark.measure_streams`, the
    code of `streamocr bench --streams`); its result."""
    try:
        return measure_streams([(mode, [str(f) for f in files], out_dir)], video)[0]
    except StreamOCRError as exc:
        raise SystemExit(f"{mode} run failed: {exc}") from None


def same_records(a: Path, b: Path) -> bool:
    """Whether two JSON-lines outputs hold the same records, latency aside."""

    def load(path: Path) -> list[dict]:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            record.pop("latency_ms", None)
        return records

    return load(a) == load(b)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print and write the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_streams", description=__doc__)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--frames", type=int, default=30, help="frames per clip")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--repeat", type=int, default=1, help="repeat the ratio at N=4")
    parser.add_argument("--no-video", action="store_true", help="write only JSON lines")
    parser.add_argument("--cluster", action="store_true", help="also 8 files on local Ray")
    parser.add_argument("--out", type=Path, help="write the table here (Markdown)")
    args = parser.parse_args(argv)
    video = not args.no_video

    import onnxruntime

    width, height = (int(v) for v in args.size.split("x"))
    most = max(args.streams + ([8] if args.cluster else []))
    clips = make_clips(most, args.frames, (width, height))
    work = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    lines = [
        f"# Streams in one process: {args.size}, {args.frames} frames a clip, "
        f"{'MP4 + JSONL' if video else 'JSONL only'}",
        "",
        f"ONNX Runtime providers available: {onnxruntime.get_available_providers()}",
        "",
        "| streams | single fps | multi fps | ratio | model ms/call | cells/call | peak RSS MB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    print("\n".join(lines), flush=True)
    rss = {}
    ratios_at_4 = []
    for n in args.streams:
        rounds = args.repeat if n == 4 else 1
        for r in range(rounds):
            files = clips[:n]
            single = measure("single", files, work / f"single{n}_{r}", video)
            multi = measure("multi", files, work / f"multi{n}_{r}", video)
            ratio = multi["fps"] / single["fps"]
            if n == 4:
                ratios_at_4.append(ratio)
            rss[n] = multi["peak_rss_mb"]
            if n == args.streams[0] and r == 0:
                print(f"providers used: {multi['providers']}", flush=True)
                lines.insert(3, f"Providers used: {multi['providers']}\n")
            row = (
                f"| {n} | {single['fps']:.2f} | {multi['fps']:.2f} | {ratio:.2f} | "
                f"{multi['model_ms']:.1f} | {multi['cells']:.0f} | {multi['peak_rss_mb']:.0f} |"
            )
            lines.append(row)
            print(row, flush=True)
    lines.append("")
    if ratios_at_4:
        text = (
            f"4 streams / one at a time: min {min(ratios_at_4):.2f}, "
            f"median {statistics.median(ratios_at_4):.2f} over {len(ratios_at_4)} runs"
        )
        lines.append(text)
        print(text)
    if 1 in rss and len(rss) > 1:
        top = max(rss)
        per_stream = (rss[top] - rss[1]) / (top - 1)
        text = f"peak RSS per extra stream: {per_stream:.0f} MB (1 -> {top} streams)"
        lines.append(text)
        print(text)
    if args.cluster:
        files = clips[:8]
        multi = measure("multi", files, work / "multi8c", video)
        cluster = measure("cluster", files, work / "cluster8", video)
        same = all(
            same_records(
                work / "multi8c" / f"{f.stem}.jsonl", work / "cluster8" / f"{f.stem}.jsonl"
            )
            for f in files
        )
        text = (
            f"Ray local cluster, 8 files: {cluster['fps']:.2f} fps once up "
            f"(start and stop {cluster['total_s'] - cluster['wall_s']:.1f} s), one process "
            f"{multi['fps']:.2f} fps, ratio {cluster['fps'] / multi['fps']:.2f}; "
            f"model {cluster['model_ms']:.1f} ms and {cluster['cells']:.0f} cells a call; "
            f"JSON lines identical: {same}"
        )
        lines.append(text)
        print(text)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
