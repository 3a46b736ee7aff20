"""Run every benchmark and write the table to bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import sys
from datetime import date
from pathlib import Path

from .bench_kernels import bench_ink_gray, bench_model


def main() -> int:
    """Run the benchmarks, print the table, write bench/RESULTS.md."""
    rows = bench_ink_gray() + bench_model(1) + bench_model(2)
    try:
        from .bench_pipeline import bench_pipeline
    except ImportError:
        bench_pipeline = None
    if bench_pipeline is not None:
        rows += bench_pipeline()
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `make bench` (`python -m bench`) on {date.today()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}.",
        "",
        "| what | result |",
        "| --- | --- |",
    ]
    lines += [f"| {what} | {result} |" for what, result in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    (Path(__file__).parent / "RESULTS.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
