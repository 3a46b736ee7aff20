"""Video sources: files and network streams (PyAV), webcams (OpenCV), and their policies.

A source yields `Frame`s in decode order. Files are finite and are read as fast as the
pipeline takes them; live sources (cameras, RTSP, HTTP MJPEG/HLS) run at their own pace, and
a network stream that breaks is reopened with exponential backoff. Sources know nothing of
Sudoku.

Example:
    >>> source = open_source("clip.mp4")
    >>> for frame in source.frames():
    ...     print(frame.index, frame.pts_s)
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from .errors import SourceError
from .redact import redact_text, redact_url
from .types import Frame
from .yuv import YuvFrame, YuvInk

log = logging.getLogger(__name__)

NETWORK_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
_MAX_BACKOFF_S = 8.0
# A live stream that sends this many damaged packets in a row is reopened; a file skips
# any stretch of damage and fails only when no frame at all decodes.
_MAX_CONSECUTIVE_DECODE_ERRORS = 50
_OPEN_POLL_S = 0.1  # how often the caller waiting for an open looks at Ctrl-C


@dataclass(frozen=True)
class SourceInfo:
    """What a sink needs to know of a source to keep its geometry and timing.

    Attributes:
        name: a short name of the source (file name, URL, camera).
        kind: "file", "stream" or "camera".
        width, height: frame size in pixels.
        fps: nominal frame rate (a guess for live sources).
        time_base: the stream's time base, so an output can keep the same timestamps;
            None where the source has none (cameras).
        frame_count: frames in a file when the container says so, else None.
    """

    name: str
    kind: str
    width: int
    height: int
    fps: Fraction
    time_base: Fraction | None = None
    frame_count: int | None = None

    @property
    def live(self) -> bool:
        """Whether the source runs at its own pace (frames may have to be dropped)."""
        return self.kind != "file"


def source_kind(spec: str) -> str:
    """Classify a source string: "camera" (``0``, ``/dev/video0``), "stream" (a URL) or "file"."""
    if spec.isdigit() or spec.startswith("/dev/video"):
        return "camera"
    if spec.lower().startswith(NETWORK_SCHEMES):
        return "stream"
    return "file"


class VideoSource:
    """Base of all sources: `info`, a `frames()` iterator, `stop()`, and counters."""

    info: SourceInfo
    reconnects: int = 0
    decode_errors: int = 0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.state = "running"  # running | restarting | ended

    def frames(self) -> Iterator[Frame]:
        """Yield frames in decode order until the source ends or `stop()` is called."""
        raise NotImplementedError

    def stop(self) -> None:
        """Ask `frames()` to end soon (safe to call from another thread)."""
        self._stop.set()

    def close(self) -> None:
        """Release the underlying file, connection or device."""


def _av_message(exc: BaseException) -> str:
    """A short human message for a PyAV / OS error (any URL in it redacted)."""
    if isinstance(exc, av.FFmpegError):
        text = exc.strerror or str(exc)
    else:
        text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return redact_text(text.rstrip(".").strip())


def _check_seconds(name: str, value: float) -> float:
    """A timeout or backoff must be a finite number > 0 (NaN or inf would wait forever)."""
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


class PyAVSource(VideoSource):
    """A video file or a network stream decoded by PyAV (FFmpeg).

    Args:
        spec: a file path or a URL (rtsp://, http(s):// for MJPEG or HLS ...).
        live: whether the source is live (reconnects, no frame count); default: a URL is.
        open_timeout_s, read_timeout_s: network timeouts (ignored for local files).
        reconnect_attempts: how often a broken live stream is reopened (0: never).
        reconnect_backoff_s: first wait before reopening; doubles per attempt, up to 8 s.
        decoder_threads: FFmpeg decoder threads (0: 2 for files, 1 for live streams, so a
            live frame is not held back by frame threading).
    """

    def __init__(
        self,
        spec: str,
        live: bool | None = None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
        reconnect_attempts: int = 10,
        reconnect_backoff_s: float = 0.5,
        decoder_threads: int = 0,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.display_name = redact_url(spec)  # what messages, logs and windows show
        self.is_network = source_kind(spec) == "stream"
        self.live = self.is_network if live is None else live
        self.open_timeout_s = _check_seconds("open_timeout_s", open_timeout_s)
        self.read_timeout_s = _check_seconds("read_timeout_s", read_timeout_s)
        self.reconnect_attempts = reconnect_attempts if self.live else 0
        self.reconnect_backoff_s = _check_seconds("reconnect_backoff_s", reconnect_backoff_s)
        self.decoder_threads = decoder_threads or (1 if self.live else 2)
        self._ink = YuvInk()
        if not self.is_network and not Path(spec).is_file():
            what = "not a file" if Path(spec).exists() else "not found"
            raise SourceError(f"video file {what}: {self.display_name}")
        self._container, self._stream = self._open_interruptibly()
        if live is None and self.is_network and self.spec.lower().startswith("http"):
            # A recording served over HTTP (a finished HLS playlist, an MP4) has a length:
            # it ends like a file, with every frame and without reconnecting. A live HLS or
            # MJPEG stream has none.
            if self._container.duration:
                self.live = False
                self.reconnect_attempts = 0
        self.info = self._make_info()

    def _open_interruptibly(
        self,
    ) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        """`_open` on a helper thread, so Ctrl-C is not held up by a slow network open.

        FFmpeg does not look at signals while it connects: waited for on this thread, a
        KeyboardInterrupt would come only after the open timeout. The helper closes what
        it opened if the caller has gone meanwhile.
        """
        if not self.is_network:
            return self._open()
        outcome: dict[str, object] = {}
        abandoned = threading.Event()

        def open_in_background() -> None:
            try:
                opened = self._open()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                outcome["error"] = exc
                return
            if abandoned.is_set():
                opened[0].close()
            else:
                outcome["opened"] = opened

        opener = threading.Thread(target=open_in_background, name="streamocr-open", daemon=True)
        opener.start()
        try:
            while opener.is_alive():
                opener.join(_OPEN_POLL_S)
        except BaseException:
            abandoned.set()
            raise
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["opened"]  # type: ignore[return-value]

    def _open(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        what = "stream" if self.is_network else "video file"
        options = {}
        if self.spec.lower().startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = "tcp"
        if self.is_network:
            # FFmpeg reads seconds of a stream to learn its format before the first frame;
            # half a second is plenty for one video stream and starts a live view sooner.
            options["analyzeduration"] = "500000"
        timeout = (self.open_timeout_s, self.read_timeout_s) if self.is_network else None
        try:
            container = av.open(self.spec, mode="r", options=options, timeout=timeout)
        except (av.FFmpegError, OSError) as exc:
            raise SourceError(
                f"cannot open {what} {self.display_name}: {_av_message(exc)}"
            ) from exc
        if not container.streams.video:
            container.close()
            raise SourceError(f"no video stream in {self.display_name}")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            container.close()
            raise SourceError(f"unsupported video codec in {self.display_name}")
        stream.thread_type = "AUTO" if self.decoder_threads > 1 else "SLICE"
        stream.codec_context.thread_count = self.decoder_threads
        return container, stream

    def _make_info(self) -> SourceInfo:
        stream = self._stream
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        frame_count = None
        if not self.live:
            frame_count = stream.frames or None
            if frame_count is None and stream.duration and stream.time_base:
                frame_count = round(float(stream.duration * stream.time_base * rate)) or None
        return SourceInfo(
            name=Path(self.spec).name if not self.is_network else self.display_name,
            kind="stream" if self.live else "file",
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=Fraction(rate),
            time_base=stream.time_base,
            frame_count=frame_count,
        )

    def frames(self) -> Iterator[Frame]:
        """Yield decoded frames; a live stream that breaks is reopened with backoff."""
        index = 0
        last_pts_s = -1.0
        pts_offset_s = 0.0
        frame_period_s = 1.0 / float(self.info.fps)
        while not self._stop.is_set():
            first_of_connection = True
            try:
                for decoded, pts_s in self._decode():
                    if first_of_connection and self.live:
                        # A live stream's clock starts anywhere (and again with each new
                        # connection): count from the first frame, always increasing.
                        pts_offset_s = (last_pts_s + frame_period_s if index else 0.0) - pts_s
                    first_of_connection = False
                    pts_s = pts_s + pts_offset_s
                    if pts_s <= last_pts_s:
                        pts_s = last_pts_s + frame_period_s
                    last_pts_s = pts_s
                    yield Frame(None, index, pts_s, self.info.name, decoded=decoded)
                    index += 1
                    if self._stop.is_set():
                        break
                broken = None  # the stream ended
            except (av.FFmpegError, OSError) as exc:
                broken = exc
            if self._stop.is_set():
                break
            if not self.live:
                if broken is not None:
                    raise SourceError(
                        f"cannot decode {self.display_name}: {_av_message(broken)}"
                    ) from broken
                if index == 0 and self.decode_errors:
                    raise SourceError(
                        f"cannot decode {self.display_name}: no frame decodes "
                        f"({self.decode_errors} damaged packets)"
                    )
                break
            reason = _av_message(broken) if broken is not None else "end of stream"
            self._reconnect(reason)
        self.state = "ended"

    def _decode(self) -> Iterator[tuple[YuvFrame, float]]:
        stream = self._stream
        consecutive_errors = 0
        last_packet_at = time.monotonic()
        for packet in self._container.demux(stream):
            now = time.monotonic()
            if self.is_network and self.live and now - last_packet_at >= self.read_timeout_s:
                # FFmpeg's read timeout first hands back what it had, then times out again
                # on the next read: a stall would be noticed only after twice the timeout.
                raise OSError(f"no data for {now - last_packet_at:.1f} s")
            last_packet_at = now
            try:
                decoded = packet.decode()
            except av.error.InvalidDataError as exc:
                # A damaged packet: FFmpeg resynchronises on the next keyframe.
                self.decode_errors += 1
                consecutive_errors += 1
                if self.live and consecutive_errors > _MAX_CONSECUTIVE_DECODE_ERRORS:
                    # Reopened by `frames()`, like a broken connection.
                    raise OSError(
                        f"{_av_message(exc)} ({consecutive_errors} damaged packets in a row)"
                    ) from exc
                continue
            consecutive_errors = 0
            for vframe in decoded:
                # Kept as decoded: BGR is made only where it is drawn or shown, the ink
                # gray straight from the planes (`yuv`).
                pts_s = float(vframe.time) if vframe.time is not None else -1.0
                yield YuvFrame(vframe, self._ink), pts_s
            if self._stop.is_set():
                return

    def _reconnect(self, reason: str) -> None:
        """Reopen a live stream, waiting longer after each failed attempt."""
        self.state = "restarting"
        self._close_container()
        delay = self.reconnect_backoff_s
        for attempt in range(1, self.reconnect_attempts + 1):
            log.warning(
                "%s: %s; reconnecting in %.1f s (attempt %d/%d)",
                self.display_name,
                reason,
                delay,
                attempt,
                self.reconnect_attempts,
            )
            if self._stop.wait(delay):
                return
            try:
                self._container, self._stream = self._open()
            except SourceError as exc:
                reason = str(exc)
                delay = min(_MAX_BACKOFF_S, delay * 2)
                continue
            self.reconnects += 1
            self.state = "running"
            log.warning("%s: reconnected", self.display_name)
            return
        raise SourceError(
            f"stream lost: {self.display_name} ({reason}; gave up after "
            f"{self.reconnect_attempts} reconnection attempts)"
        )

    def _close_container(self) -> None:
        container, self._container = getattr(self, "_container", None), None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError):
                pass

    def close(self) -> None:
        """Close the container."""
        self._close_container()


class CameraSource(VideoSource):
    """A webcam through OpenCV (``0`` or ``/dev/video0``); always live.

    Timestamps are taken from the wall clock when each frame arrives.
    """

    def __init__(self, spec: str) -> None:
        import cv2

        super().__init__()
        self.spec = spec
        device = int(spec) if spec.isdigit() else spec
        # OpenCV logs each backend it probes (a dozen lines for a missing camera); the one
        # line that matters is ours.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            self._capture = cv2.VideoCapture(device)
            opened = self._capture.isOpened()
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not opened:
            raise SourceError(f"cannot open camera {spec}")
        fps = self._capture.get(cv2.CAP_PROP_FPS) or 30.0
        self.info = SourceInfo(
            name=f"camera {spec}",
            kind="camera",
            width=int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=Fraction(fps).limit_denominator(1001),
            time_base=Fraction(1, 1000),
        )

    def frames(self) -> Iterator[Frame]:
        """Yield frames until the camera fails or `stop()` is called."""
        start = time.monotonic()
        index = 0
        while not self._stop.is_set():
            ok, image = self._capture.read()
            if not ok or image is None:
                raise SourceError(f"camera {self.spec} stopped delivering frames")
            yield Frame(image, index, time.monotonic() - start, self.info.name)
            index += 1
        self.state = "ended"

    def close(self) -> None:
        """Release the camera."""
        self._capture.release()


def open_source(
    spec: str,
    open_timeout_s: float = 10.0,
    read_timeout_s: float = 5.0,
    reconnect_attempts: int = 10,
    reconnect_backoff_s: float = 0.5,
    decoder_threads: int = 0,
) -> VideoSource:
    """Open a file, a network stream or a camera by its string.

    Raises:
        SourceError: the file is missing or not a video, the stream cannot be reached, the
            codec is not supported, or the camera cannot be opened.
    """
    kind = source_kind(spec)
    if kind == "camera":
        return CameraSource(spec)
    return PyAVSource(
        spec,
        open_timeout_s=open_timeout_s,
        read_timeout_s=read_timeout_s,
        reconnect_attempts=reconnect_attempts,
        reconnect_backoff_s=reconnect_backoff_s,
        decoder_threads=decoder_threads,
    )
