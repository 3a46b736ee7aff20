"""Run every benchmark and write the table to bench/RESULTS.md (other sections kept)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import date
from pathlib import Path

from .bench_kernels import bench_ink_gray, bench_ink_gray_yuv, bench_model
from .bench_pipeline import bench_pipeline

RESULTS = Path(__file__).parent / "RESULTS.md"
SPEED_HEADING = "# Benchmark results"


def _other_sections(text: str) -> str:
    """The sections of an existing RESULTS.md that another benchmark writes (from the first
    second-level heading that is not this table's own)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        # A section another benchmark rewrites starts at its marker (`<!-- soak:start -->`).
        if line.startswith("<!-- ") or (line.startswith("## ") and not line.startswith("## Speed")):
            return "\n".join(lines[i:]) + "\n"
    return ""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table, write bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per clip (min/median/max)")
    parser.add_argument(
        "--live-seconds", type=float, default=30.0, help="seconds of each live run (0: skip)"
    )
    args = parser.parse_args(argv)
    rows = bench_ink_gray() + bench_ink_gray_yuv() + bench_model(1) + bench_model(2)
    rows += bench_pipeline(args.repeats, args.live_seconds)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    lines = [
        SPEED_HEADING,
        "",
        f"Produced by `make bench` (`python -m bench --repeats {args.repeats}`) on "
        f"{date.today()}, {platform.processor() or platform.machine()}, {cores} of "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}. Rates are min / "
        "median / max over the repeats; each ratio is taken within one run (the pipeline "
        "against decoding the same file), so the machine's load mostly cancels out.",
        "",
        "## Speed",
        "",
        "| what | result |",
        "| --- | --- |",
    ]
    lines += [f"| {what} | {result} |" for what, result in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    others = _other_sections(RESULTS.read_text()) if RESULTS.is_file() else ""
    RESULTS.write_text(text + ("\n" + others if others else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
