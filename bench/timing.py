"""A small timing helper shared by the benchmarks: best-of-N medians, in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_ms(fn: Callable[[], object], repeat: int = 200, warmup: int = 10) -> float:
    """Median wall time of one call of `fn`, in milliseconds, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
