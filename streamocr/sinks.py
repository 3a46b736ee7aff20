"""Outputs of the video pipeline: an MP4 file (PyAV), JSON lines, an OpenCV window.

Sinks take images, timestamps and plain dicts; they know nothing of Sudoku. Each one is
closed in the pipeline's ``finally``, so whatever was written stays valid after an error
or an interrupt (the MP4 is finalised, every JSON line is complete).

Files are written under a temporary name beside the output (``.NAME.PID.part``) and renamed
into place when closed, so an existing file at the output path is never damaged by a run
that fails: a video without a single frame, or one whose writing failed, is not renamed
into place at all.
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
from .redact import redact_text

log = logging.getLogger(__name__)

# Tried in order: H.264 first; MPEG-4 Part 2 plays almost everywhere where H.264 is missing.
VIDEO_ENCODERS = ("libx264", "libopenh264", "h264", "mpeg4")
# x264 holding fewer frames: one B-frame and a 5-frame lookahead instead of veryfast's 3 and
# 10. About 50 MB instead of 75 MB an encoder at 720p, for files about 7% larger; used
# where many streams each write a video at once (`RunOutputs.compact_video`).
COMPACT_X264 = "bframes=1:rc-lookahead=5"
# The video containers an output path may name, by extension, and FFmpeg's name for each.
VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}


def video_format(path: Path | str) -> str:
    """FFmpeg's container format for a video output path, from its extension.

    Raises:
        SinkError: the extension is missing or not one of `VIDEO_FORMATS`.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_FORMATS:
        valid = ", ".join(VIDEO_FORMATS)
        what = f"unknown extension '{suffix}'" if suffix else "no extension"
        raise SinkError(f"cannot write video {path}: {what} (use one of {valid})")
    return VIDEO_FORMATS[suffix]


def _same_file(a: Path | str, b: Path | str) -> bool:
    """Whether two paths name one file (the same path, a link, or a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_paths(
    input_path: Path | str | None, video: Path | str | None, jsonl: Path | str | None
) -> None:
    """Refuse outputs that would overwrite the input or each other, before anything opens.

    Also checks that the video's extension names a container, so a bad ``--out`` fails
    before the run rather than after it.

    Args:
        input_path: the input file, or None where the input is not a file (a stream).
        video, jsonl: the output paths, or None.

    Raises:
        SinkError: an output is the input file, both outputs are one file, or the video's
            extension is unknown.
    """
    if video is not None:
        video_format(video)
    for flag, path in (("--out", video), ("--jsonl", jsonl)):
        if path is not None and input_path is not None and _same_file(input_path, path):
            raise SinkError(f"{flag} {path} is the input video; writing it would destroy it")
    if video is not None and jsonl is not None and _same_file(video, jsonl):
        raise SinkError(f"--out and --jsonl are the same file ({video}); give two paths")


def _partial_path(path: Path) -> Path:
    """The temporary name a file is written under until it is complete."""
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def _prepare_output(path: Path, what: str) -> Path:
    """Check that `path` can be written (without touching it); return its temporary name."""
    if path.is_dir():
        raise SinkError(f"cannot write {what} {path}: is a folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise SinkError(f"cannot write {what} {path}: permission denied")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SinkError(f"cannot write {what} {path}: a file is in the way of its folder") from None
    except OSError as exc:
        raise SinkError(f"cannot write {what} {path}: {exc.strerror or exc}") from exc
    return _partial_path(path)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc.strerror or exc)


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
        compact: with libx264, an encoder that holds fewer frames (`COMPACT_X264`), for
            many streams written at once.

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
        compact: bool = False,
    ) -> None:
        self.path = Path(path)
        self.start_at_zero = start_at_zero
        self._first_pts_s: float | None = None
        self._failed = False
        container_format = video_format(self.path)
        self.encoder = encoder or pick_encoder()
        fps = Fraction(fps).limit_denominator(100000) if fps else Fraction(30)
        self.time_base = time_base or Fraction(1, 1000) / fps
        self.partial_path = _prepare_output(self.path, "video")
        try:
            # FFmpeg opens the file lazily, at the first packet: find a bad path now.
            with open(self.partial_path, "wb"):
                pass
            self._container = av.open(str(self.partial_path), mode="w", format=container_format)
        except (av.FFmpegError, OSError) as exc:
            _remove(self.partial_path)
            message = getattr(exc, "strerror", None) or exc
            raise SinkError(f"cannot write video {self.path}: {message}") from exc
        try:
            stream = self._container.add_stream(self.encoder, rate=fps)
            stream.width = max(2, width - width % 2)
            stream.height = max(2, height - height % 2)
            stream.pix_fmt = "yuv420p"
            stream.time_base = self.time_base
            stream.codec_context.time_base = self.time_base
            if self.encoder == "libx264":
                stream.options = {"preset": "veryfast", "crf": "23"}
                if compact:
                    stream.options = {**stream.options, "x264-params": COMPACT_X264}
            elif self.encoder == "mpeg4":
                stream.bit_rate = 2_000_000
            stream.thread_count = 1
        except (av.FFmpegError, ValueError) as exc:
            self._container.close()
            _remove(self.partial_path)
            raise SinkError(f"cannot set up {self.encoder} encoder for {self.path}: {exc}") from exc
        self._stream = stream
        self._size = (stream.width, stream.height)
        self._last_pts: int | None = None
        self.frames_written = 0
        self.frames_resized = 0

    def write(self, image: np.ndarray, pts_s: float) -> None:
        """Encode one BGR uint8 frame shown at `pts_s` seconds.

        A frame of another size (a stream whose resolution changed) is scaled to the
        video's size, so it is kept rather than lost in the encoder.
        """
        if (image.shape[1], image.shape[0]) != self._size:
            import cv2

            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
            self.frames_resized += 1
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        if self._first_pts_s is None:
            # A frame shown before 0 is cut by players (an MP4's edit list starts at 0):
            # a stream whose clock starts below 0 (raw H.264) is shifted to start at 0.
            self._first_pts_s = pts_s if self.start_at_zero or pts_s < 0 else 0.0
        pts = round((pts_s - self._first_pts_s) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # the container needs strictly increasing timestamps
        frame.pts = pts
        frame.time_base = self.time_base
        self._last_pts = pts
        if self._container is None:
            raise SinkError(f"{self.path} is closed")
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            self._failed = True
            message = getattr(exc, "strerror", None) or exc
            raise SinkError(f"cannot write video {self.path}: {message}") from exc
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder, finalise the file and rename it into place (safe to call twice).

        A video without frames, or whose writing failed, is discarded: whatever was at
        the output path before stays as it was.

        Raises:
            SinkError: the video could not be finalised (a full disk).
        """
        container, self._container = self._container, None
        if container is None:
            return
        error: BaseException | None = None
        try:
            if self.frames_written:
                for packet in self._stream.encode(None):
                    container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            error = exc
        finally:
            try:
                container.close()
            except (av.FFmpegError, OSError) as exc:
                error = error or exc
        if error is not None or self._failed or not self.frames_written:
            _remove(self.partial_path)
            if error is not None:
                message = getattr(error, "strerror", None) or error
                raise SinkError(f"cannot finish video {self.path}: {message}") from error
            if not self.frames_written:
                log.warning("no frame was written: %s left as it was", self.path)
            return
        try:
            os.replace(self.partial_path, self.path)
        except OSError as exc:
            _remove(self.partial_path)
            raise SinkError(f"cannot write video {self.path}: {exc.strerror or exc}") from exc


class JsonLinesSink:
    """Writes one JSON object per line, flushed per line, so the file is complete up to the
    last record even if the process is stopped.

    A write that fails (a full disk) cuts the file back to its last complete line; on
    `close` the file is renamed into place with every record written before the failure.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.partial_path = _prepare_output(self.path, "JSON lines")
        try:
            self._file: IO[bytes] | None = open(self.partial_path, "wb")  # noqa: SIM115
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._complete_bytes = 0  # the file's length up to its last complete line
        self.records_written = 0

    def write(self, record: dict) -> None:
        """Append one record (a whole line, or nothing)."""
        if self._file is None:
            raise SinkError(f"{self.path} is closed")
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            self._cut_to_last_line()
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._complete_bytes += len(line)
        self.records_written += 1

    def _cut_to_last_line(self) -> None:
        """Drop a partly written line (truncating needs no free space)."""
        file, self._file = self._file, None
        try:
            os.ftruncate(file.fileno(), self._complete_bytes)
        except OSError as exc:
            log.warning("cannot cut %s back to its last line: %s", self.path, exc)
        try:
            file.close()
        except OSError:
            # Buffered bytes that cannot be flushed are the cut line; the file on disk
            # already ends at the last complete one.
            pass
        try:
            os.truncate(self.partial_path, self._complete_bytes)
        except OSError:
            pass

    def close(self) -> None:
        """Close the file and rename it into place (safe to call twice)."""
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as exc:
                self._file = file
                self._cut_to_last_line()
                log.warning("closing %s failed: %s", self.path, exc.strerror or exc)
        if not self.partial_path.exists():
            return
        try:
            os.replace(self.partial_path, self.path)
        except OSError as exc:
            _remove(self.partial_path)
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc


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
        self.title = redact_text(title)  # a window title names the source: no password
        self.snapshot_dir = Path(snapshot_dir)
        self.snapshots: list[Path] = []
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
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
