"""The progress bar a file run shows on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """A one-line progress bar on a terminal: frames, fps, ETA."""

    def __init__(self, total: int | None, stream: TextIO = sys.stderr, width: int = 24) -> None:
        self.total = total
        self.stream = stream
        self.width = width
        self._start = time.monotonic()
        self._shown = False

    def update(self, done: int) -> None:
        """Redraw the line for `done` frames."""
        elapsed = time.monotonic() - self._start
        fps = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            share = min(1.0, done / self.total)
            filled = int(share * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            eta = (self.total - done) / fps if fps > 0 else 0.0
            text = f"[{bar}] {done}/{self.total} frames {fps:5.1f} fps ETA {_clock(eta)}"
        else:
            text = f"{done} frames {fps:5.1f} fps {_clock(elapsed)}"
        self.stream.write("\r" + text + " ")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the line."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
