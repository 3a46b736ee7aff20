"""The progress bars a run shows on a terminal: over a file's frames, or over many files."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class _StatusLine:
    """One line of a terminal, redrawn in place; the bars below fill it."""

    def __init__(self, stream: TextIO, width: int) -> None:
        self.stream = stream
        self.width = width
        self._start = time.monotonic()
        self._shown = False

    def _bar(self, share: float) -> str:
        filled = int(share * self.width)
        return "#" * filled + "-" * (self.width - filled)

    def _draw(self, text: str) -> None:
        self.stream.write("\r" + text + " ")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the line."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


class ProgressBar(_StatusLine):
    """A one-line progress bar on a terminal: frames, fps, ETA."""

    def __init__(self, total: int | None, stream: TextIO = sys.stderr, width: int = 24) -> None:
        super().__init__(stream, width)
        self.total = total

    def update(self, done: int) -> None:
        """Redraw the line for `done` frames."""
        elapsed = time.monotonic() - self._start
        fps = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            bar = self._bar(min(1.0, done / self.total))
            eta = (self.total - done) / fps if fps > 0 else 0.0
            text = f"[{bar}] {done}/{self.total} frames {fps:5.1f} fps ETA {_clock(eta)}"
        else:
            text = f"{done} frames {fps:5.1f} fps {_clock(elapsed)}"
        self._draw(text)


class FilesProgress(_StatusLine):
    """A one-line progress bar over the files of a many-file run: files, frames, fps, ETA."""

    def __init__(self, files: int, stream: TextIO = sys.stderr, width: int = 24) -> None:
        super().__init__(stream, width)
        self.files = files
        self.files_done = 0

    def file_done(self) -> None:
        """Count one more file ended (done, failed or skipped)."""
        self.files_done += 1

    def update(self, frames: int) -> None:
        """Redraw the line for `frames` frames written so far."""
        elapsed = time.monotonic() - self._start
        fps = frames / elapsed if elapsed > 0 else 0.0
        share = min(1.0, self.files_done / self.files) if self.files else 1.0
        eta = elapsed * (1.0 - share) / share if share > 0 else 0.0
        self._draw(
            f"[{self._bar(share)}] {self.files_done}/{self.files} files, {frames} frames "
            f"{fps:5.1f} fps ETA {_clock(eta)}"
        )


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
