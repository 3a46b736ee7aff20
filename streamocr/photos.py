"""Loading still photos (JPEG, PNG, ...) as BGR arrays, with clear errors and bounded memory.

The image size is read from the file's header before anything is decoded: a small file
whose header claims a huge image (60000x60000 pixels in 69 bytes) is refused with one line
instead of taking gigabytes or raising from OpenCV. The decoder's own warnings (libjpeg's
"Corrupt JPEG data ...") are kept off the terminal and logged at INFO level.
"""

from __future__ import annotations

import logging
import os
import struct
import sys
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

log = logging.getLogger(__name__)

# 64 million pixels (a BGR image of 192 MB): larger than any phone camera's photo in use.
DEFAULT_MAX_PIXELS = 64_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless ...); not DHT, JPG or DAC.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_stderr_lock = threading.Lock()


def header_size(data: bytes | np.ndarray) -> tuple[int, int] | None:
    """The (width, height) an image file's header declares, or None where it cannot tell.

    Reads PNG (IHDR), JPEG (the start-of-frame segment), BMP and GIF headers; other
    formats give None and are left to OpenCV's own limit.
    """
    head = bytes(data[:16]) if isinstance(data, np.ndarray) else data[:16]
    if head.startswith(_PNG_SIGNATURE):
        chunk = bytes(data[8:24])
        if len(chunk) == 16 and chunk[4:8] == b"IHDR":
            width, height = struct.unpack(">II", chunk[8:16])
            return width, height
        return None
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if head.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", bytes(data[18:26]))
        return abs(width), abs(height)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", bytes(data[6:10]))
        return width, height
    return None


def _jpeg_size(data: bytes | np.ndarray) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame and read its size."""
    view = memoryview(bytes(data)) if isinstance(data, np.ndarray) else memoryview(data)
    position = 2
    while position + 4 <= len(view):
        if view[position] != 0xFF:
            return None
        marker = view[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", view[position + 2 : position + 4])
        if marker in _JPEG_SOF:
            if position + 9 > len(view):
                return None
            height, width = struct.unpack(">HH", view[position + 5 : position + 9])
            return width, height
        if length < 2:
            return None
        position += 2 + length
    return None


def _decode_quietly(data: np.ndarray) -> np.ndarray | None:
    """`cv2.imdecode`, with what the C decoders print to stderr logged instead."""
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        stderr_fd = None
    if stderr_fd is None:
        return cv2.imdecode(data, cv2.IMREAD_COLOR)
    with _stderr_lock, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(stderr_fd)
        os.dup2(captured.fileno(), stderr_fd)
        try:
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        finally:
            os.dup2(saved, stderr_fd)
            os.close(saved)
        captured.seek(0)
        for line in captured.read(4096).decode("utf-8", "replace").splitlines():
            if line.strip():
                log.info("decoder: %s", line.strip())
    return image


def load_image(path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load a photo as BGR uint8, turned upright by its EXIF orientation tag.

    Args:
        path: the image file.
        max_pixels: refuse images larger than this (checked from the header first).

    Raises:
        InputError: the file is missing, unreadable, not an image, or too large.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    if not data.size:
        raise InputError(f"{path}: empty file, not an image")
    size = header_size(data)
    if size is not None:
        width, height = size
        if width == 0 or height == 0:
            raise InputError(f"{path}: not an image OpenCV can decode (size {width}x{height})")
        if width * height > max_pixels:
            raise InputError(
                f"{path}: image too large ({width}x{height} = {width * height} pixels; "
                f"the limit is {max_pixels})"
            )
    try:
        image = _decode_quietly(data)
    except cv2.error as exc:
        reason = (str(exc).strip().splitlines() or ["?"])[-1]
        raise InputError(f"{path}: not an image OpenCV can decode ({reason})") from exc
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can decode")
    if image.shape[0] * image.shape[1] > max_pixels:
        raise InputError(f"{path}: image too large ({image.shape[1]}x{image.shape[0]})")
    return image
