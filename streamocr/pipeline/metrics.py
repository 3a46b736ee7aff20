"""What a run measures: per-stage busy time and frames, and the run's summary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageMeter:
    """Frames a stage handled and the time it spent busy on them."""

    name: str
    frames: int = 0
    busy_s: float = 0.0
    frame_ms: list[float] = field(default_factory=list, repr=False)  # per block, per frame

    @contextmanager
    def timing(self, frames: int = 1) -> Iterator[None]:
        """Count `frames` and the time spent in the block."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(time.perf_counter() - start, frames)

    def add(self, busy_s: float, frames: int = 1) -> None:
        """Count `frames` handled in `busy_s` seconds."""
        self.busy_s += busy_s
        self.frames += frames
        if frames:
            self.frame_ms.append(1000.0 * busy_s / frames)

    def percentiles_ms(self) -> tuple[float, float] | None:
        """p50 and p95 of the stage's milliseconds per frame, or None before any frame."""
        if not self.frame_ms:
            return None
        ordered = sorted(self.frame_ms)
        pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
        return pick(0.5), pick(0.95)

    @property
    def fps(self) -> float:
        """Frames per second of busy time (what the stage could sustain alone)."""
        return self.frames / self.busy_s if self.busy_s > 0 else 0.0


@dataclass(frozen=True)
class RunSummary:
    """What a run did: counts, speed per stage, latency, how it ended."""

    frames_in: int
    frames_out: int
    dropped: int
    wall_s: float
    stage_fps: dict[str, float]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    model_calls: int = 0
    reconnects: int = 0
    decode_errors: int = 0
    stopped_by: str | None = None  # None when the source ended by itself
    encoder: str | None = None
    stage_ms: dict[str, tuple[float, float]] = field(default_factory=dict)  # p50, p95 per frame

    @property
    def fps(self) -> float:
        """Frames out per second of wall time."""
        return self.frames_out / self.wall_s if self.wall_s > 0 else 0.0

    def lines(self) -> list[str]:
        """A human summary, a few lines."""
        how = f", stopped by {self.stopped_by}" if self.stopped_by else ""
        lines = [
            f"frames in {self.frames_in}, out {self.frames_out}, dropped {self.dropped} "
            f"in {self.wall_s:.1f} s ({self.fps:.1f} fps){how}",
            "stage fps: " + ", ".join(f"{k} {v:.1f}" for k, v in self.stage_fps.items()),
        ]
        if self.latency_p50_ms is not None:
            lines.append(
                f"latency p50 {self.latency_p50_ms:.1f} ms, p95 {self.latency_p95_ms:.1f} ms"
            )
        extra = []
        if self.model_calls:
            extra.append(f"model calls {self.model_calls}")
        if self.reconnects:
            extra.append(f"reconnects {self.reconnects}")
        if self.decode_errors:
            extra.append(f"damaged packets {self.decode_errors}")
        if self.encoder:
            extra.append(f"encoder {self.encoder}")
        if extra:
            lines.append(", ".join(extra))
        return lines
