"""Outputs of the video pipeline: an MP4 file (PyAV), JSON lines, an OpenCV window.

Sinks take images, timestamps and plain dicts; they know nothing of Sudoku. Each one is
closed in the pipeline's ``finally``, so whatever was written stays valid after an error
or an interrupt (the MP4 is finalised, every JSON line is complete).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import IO

import av
import numpy as np

from .errors import SinkError

log = logging.getLogger(__name__)

# Tried in order: H.264 first; MPEG-4 Part 2 plays almost everywhere where H.264 is missing.
VIDEO_ENCODERS = ("libx264", "libopenh264", "h264", "mpeg4")


def pick_encoder(preferred: tuple[str, ...] = VIDEO_ENCODERS) -> str:
    """The first of `preferred` that this PyAV build can encode with."""
    for name in preferred:
        try:
            av.codec.Codec(name, "w")
        except (av.FFmpegError, ValueError):
            continue
        return name
    raise SinkError(f"no video encoder available (tried {', '.join(preferred)})")


class VideoFileSink:
    """Writes BGR frames to an MP4 file, keeping the source's timestamps.

    Args:
        path: the output file (its folder must exist).
        width, height: frame size; odd sizes are rounded down to even ones for yuv420p.
        fps: nominal frame rate (written as the stream's rate).
        time_base: the source's time base; frames are stamped ``round(pts_s / time_base)``
            so a file keeps its exact timing. Default: ``1 / (fps * 1000)``.
        encoder: a codec name, or None to pick the first available of `VIDEO_ENCODERS`.
        start_at_zero: shift timestamps so the first frame written is shown at 0 (for live
            sources, whose first frames may have been dropped).

    Example:
        >>> sink = VideoFileSink("out.mp4", 640, 480, Fraction(30))
        >>> sink.write(image, pts_s=0.0)
        >>> sink.close()
    """

    def __init__(
        self,
        path: Path | str,
        width: int,
        height: int,
        fps: Fraction,
        time_base: Fraction | None = None,
        encoder: str | None = None,
        start_at_zero: bool = False,
    ) -> None:
        self.path = Path(path)
        self.start_at_zero = start_at_zero
        self._first_pts_s: float | None = None
        self.encoder = encoder or pick_encoder()
        fps = Fraction(fps).limit_denominator(100000) if fps else Fraction(30)
        self.time_base = time_base or Fraction(1, 1000) / fps
        try:
            # FFmpeg opens the file lazily, at the first packet: find a bad path now.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "wb"):
                pass
        except OSError as exc:
            raise SinkError(f"cannot write video {self.path}: {exc.strerror or exc}") from exc
        try:
            self._container = av.open(str(self.path), mode="w")
        except (av.FFmpegError, OSError) as exc:
            raise SinkError(f"cannot write video {self.path}: {exc}") from exc
        try:
            stream = self._container.add_stream(self.encoder, rate=fps)
            stream.width = max(2, width - width % 2)
            stream.height = max(2, height - height % 2)
            stream.pix_fmt = "yuv420p"
            stream.time_base = self.time_base
            stream.codec_context.time_base = self.time_base
            if self.encoder == "libx264":
                stream.options = {"preset": "veryfast", "crf": "23"}
            elif self.encoder == "mpeg4":
                stream.bit_rate = 2_000_000
            stream.thread_count = 1
        except (av.FFmpegError, ValueError) as exc:
            self._container.close()
            raise SinkError(f"cannot set up {self.encoder} encoder for {self.path}: {exc}") from exc
        self._stream = stream
        self._last_pts: int | None = None
        self.frames_written = 0

    def write(self, image: np.ndarray, pts_s: float) -> None:
        """Encode one BGR uint8 frame shown at `pts_s` seconds."""
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        if self._first_pts_s is None:
            self._first_pts_s = pts_s if self.start_at_zero else 0.0
        pts = round((pts_s - self._first_pts_s) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # the container needs strictly increasing timestamps
        frame.pts = pts
        frame.time_base = self.time_base
        self._last_pts = pts
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise SinkError(f"cannot write video {self.path}: {exc}") from exc
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and finalise the file (safe to call twice)."""
        container, self._container = self._container, None
        if container is None:
            return
        try:
            for packet in self._stream.encode(None):
                container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            log.warning("flushing %s failed: %s", self.path, exc)
        finally:
            container.close()


class JsonLinesSink:
    """Writes one JSON object per line, flushed per line, so the file is complete up to the
    last record even if the process is stopped."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def write(self, record: dict) -> None:
        """Append one record."""
        if self._file is None:
            raise SinkError(f"{self.path} is closed")
        try:
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._file.flush()
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        file, self._file = self._file, None
        if file is not None:
            file.close()


def display_available() -> bool:
    """Whether a window can be shown (a desktop session, or an X/Wayland display)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowSink:
    """Shows frames in an OpenCV window; keys: q quit, space freeze, s save a PNG snapshot.

    `show` returns False once the viewer asked to quit. While frozen, `show` keeps the last
    frame on screen and waits for keys, which holds the pipeline (files) or makes it drop
    frames (live sources).
    """

    def __init__(self, title: str = "streamocr", snapshot_dir: Path | str = ".") -> None:
        import cv2

        self._cv2 = cv2
        self.title = title
        self.snapshot_dir = Path(snapshot_dir)
        self.snapshots: list[Path] = []
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise SinkError(f"cannot open a window: {str(exc).strip().splitlines()[-1]}") from exc

    def show(self, image: np.ndarray, index: int) -> bool:
        """Show one frame and handle keys; False when the viewer pressed q."""
        cv2 = self._cv2
        cv2.imshow(self.title, image)
        frozen = False
        while True:
            key = cv2.waitKey(50 if frozen else 1) & 0xFF
            if key == ord("q"):
                return False
            if key == ord("s"):
                path = self.snapshot_dir / f"streamocr_{index:06d}.png"
                cv2.imwrite(str(path), image)
                self.snapshots.append(path)
                log.warning("snapshot saved: %s", path)
            elif key == ord(" "):
                frozen = not frozen
            if not frozen:
                return True

    def close(self) -> None:
        """Close the window."""
        try:
            self._cv2.destroyWindow(self.title)
        except self._cv2.error:
            pass
