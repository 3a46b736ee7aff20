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


class FilesProgress:
    """A one-line progress bar over the files of a many-file run: files, frames, fps, ETA."""

    def __init__(self, files: int, stream: TextIO = sys.stderr, width: int = 24) -> None:
        self.files = files
        self.stream = stream
        self.width = width
        self.files_done = 0
        self._start = time.monotonic()
        self._shown = False

    def file_done(self) -> None:
        """Count one more file ended (done, failed or skipped)."""
        self.files_done += 1

    def update(self, frames: int) -> None:
        """Redraw the line for `frames` frames written so far."""
        elapsed = time.monotonic() - self._start
        fps = frames / elapsed if elapsed > 0 else 0.0
        share = min(1.0, self.files_done / self.files) if self.files else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        eta = elapsed * (1.0 - share) / share if share > 0 else 0.0
        text = (
            f"[{bar}] {self.files_done}/{self.files} files, {frames} frames "
            f"{fps:5.1f} fps ETA {_clock(eta)}"
        )
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
