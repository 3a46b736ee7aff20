"""The ink gray of a decoded frame straight from its YUV 4:2:0 planes.

A decoder hands frames over as YUV: luma at full resolution, two chroma planes at half.
Turning each into BGR (FFmpeg's swscale, what `to_ndarray(format="bgr24")` runs) and then
taking the ink gray (`preprocess.ink_gray`, the darkest of the three channels) costs two
passes over the frame, and a JSON-lines run never needs the BGR picture at all.

swscale's YUV to BGR converter is fixed-point arithmetic: per pixel,

    B = clip(L[Y] + Cb[U]),  G = clip(L[Y] + Gu[U] + Gv[V]),  R = clip(L[Y] + Cr[V])

each term a fixed-point product set by the frame's colour matrix and range (the
coefficients and rounding of libswscale's x86 converter: `_coefficients`). The darkest
channel is then clip(L[Y] + min(Cb[U], Gu[U] + Gv[V], Cr[V])): the chroma part once per 2x2
block, one addition per pixel. The result equals `ink_gray` of swscale's own BGR frame bit for bit, so
nothing downstream changes; `YuvInk` checks that on the first frame of each format a source
delivers and converts through BGR for good if it ever differs (another converter, another
CPU path).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import numba
import numpy as np

from .preprocess import ink_gray

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

# libswscale's YUV to RGB coefficients per colour matrix (ff_yuv2rgb_coeffs: crv, cbu, cgu,
# cgv, 16.16 fixed point), by AVColorSpace; any other matrix uses the default (BT.601).
_MATRICES = {
    1: (117489, 138438, 13975, 34925),  # BT.709
    4: (104448, 132798, 24759, 53109),  # FCC
    7: (117579, 136230, 16907, 35559),  # SMPTE 240M
    9: (110013, 140363, 12277, 42626),  # BT.2020 (non-constant luminance)
    10: (110013, 140363, 12277, 42626),  # BT.2020 (constant luminance)
}
_BT601 = (104597, 132201, 25675, 53279)
_FORMATS = {"yuv420p": False, "yuvj420p": True}  # 4:2:0 planar; True: full range by format
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG


def _int16(value: int) -> int:
    """libswscale's roundToInt16: 16.16 fixed point to a rounded, clipped int16."""
    return max(-32768, min(32767, (value + (1 << 15)) >> 16))


def _coefficients(colorspace: int, full_range: bool) -> np.ndarray:
    """swscale's converter for a colour matrix and range, as int32: the luma offset and
    the luma, Cb, Gu, Gv and Cr coefficients (each term is the high half of a 16-bit
    product, `pmulhw`, of the value promoted by 3 bits, less its offset, with its
    coefficient; chroma's offset is 128 promoted)."""
    crv, cbu, cgu, cgv = _MATRICES.get(colorspace, _BT601)
    cy, oy = 1 << 16, 0
    if full_range:
        crv, cbu, cgu, cgv = (c * 224 // 255 for c in (crv, cbu, cgu, cgv))
    else:
        cy, oy = cy * 255 // 219, 16 << 16
    scaled = (_int16(c * (1 << 13)) for c in (cy, cbu, -cgu, -cgv, crv))
    return np.array([_int16(oy * 8), *scaled], np.int32)


@numba.njit(cache=True, nogil=True)
def _ink_from_yuv420(y, u, v, coefficients, out):  # noqa: ANN001
    # Every step in int32, as written: numba widens int32 arithmetic to int64 otherwise,
    # and the loops then do not vectorise (3x slower).
    height, width = out.shape
    luma_offset, luma = coefficients[0], coefficients[1]
    blue, green_u, green_v, red = coefficients[2], coefficients[3], coefficients[4], coefficients[5]
    eight, shift, centre = np.int32(8), np.int32(16), np.int32(128 * 8)
    half = (width + 1) >> 1
    part = np.empty(half, np.int32)
    lowest = np.empty(2 * half, np.int32)  # a row pair's chroma part, one value per pixel
    for i in range(height):
        if (i & 1) == 0:
            u_row, v_row = u[i >> 1], v[i >> 1]
            for c in range(half):
                cu = np.int32(np.int32(u_row[c]) * eight - centre)
                cv = np.int32(np.int32(v_row[c]) * eight - centre)
                b = np.int32(np.int32(cu * blue) >> shift)
                g = np.int32(
                    np.int32(np.int32(cu * green_u) >> shift)
                    + np.int32(np.int32(cv * green_v) >> shift)
                )
                r = np.int32(np.int32(cv * red) >> shift)
                part[c] = min(min(b, g), r)
            for c in range(half):
                lowest[2 * c] = part[c]
                lowest[2 * c + 1] = part[c]
        y_row, out_row = y[i], out[i]
        for j in range(width):
            value = np.int32(np.int32(y_row[j]) * eight - luma_offset)
            value = np.int32(np.int32(np.int32(value * luma) >> shift) + lowest[j])
            out_row[j] = np.uint8(min(max(value, np.int32(0)), np.int32(255)))


def _plane(frame: av.VideoFrame, index: int, rows: int) -> np.ndarray:
    plane = frame.planes[index]
    return np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[:rows]


def ink_gray_yuv420(frame: av.VideoFrame, coefficients: np.ndarray) -> np.ndarray:
    """The ink gray of a YUV 4:2:0 planar frame, with the converter's `coefficients`."""
    height, width = frame.height, frame.width
    out = np.empty((height, width), np.uint8)
    y = _plane(frame, 0, height)
    u = _plane(frame, 1, (height + 1) >> 1)
    v = _plane(frame, 2, (height + 1) >> 1)
    _ink_from_yuv420(y, u, v, coefficients, out)
    return out


class YuvInk:
    """A source's ink grays from YUV: one per source, frames of any format handed to it.

    The first frame of each format (pixel format, size, colour matrix and range) is also
    converted through BGR and the two grays compared: where they differ (a format this
    module does not know, a converter that rounds otherwise) that format goes through BGR
    from then on. Thread-safe.
    """

    def __init__(self) -> None:
        self._checked: dict[tuple, np.ndarray | None] = {}
        self._lock = threading.Lock()

    def gray(self, frame: YuvFrame) -> np.ndarray:
        """The frame's ink gray, equal to `ink_gray(frame.bgr())`."""
        vframe = frame.vframe
        fmt = vframe.format.name
        key = (fmt, vframe.width, vframe.height, vframe.colorspace, vframe.color_range)
        with self._lock:
            known = key in self._checked
            coefficients = self._checked.get(key)
        if known:
            if coefficients is None:
                return ink_gray(frame.bgr())
            return ink_gray_yuv420(vframe, coefficients)
        coefficients = None
        if fmt in _FORMATS:
            full = _FORMATS[fmt] or vframe.color_range == _JPEG_RANGE
            coefficients = _coefficients(vframe.colorspace, full)
        reference = ink_gray(frame.bgr())
        if coefficients is not None and not np.array_equal(
            ink_gray_yuv420(vframe, coefficients), reference
        ):
            log.debug("ink gray from YUV differs from swscale's for %s: through BGR", key)
            coefficients = None
        with self._lock:
            self._checked[key] = coefficients
        return reference


class YuvFrame:
    """A decoded frame kept as the decoder gave it: BGR made on first use
    (`types.Frame.image`), the ink gray made from the planes (`YuvInk`)."""

    __slots__ = ("vframe", "_ink", "_bgr")

    def __init__(self, vframe: av.VideoFrame, ink: YuvInk) -> None:
        self.vframe = vframe
        self._ink = ink
        self._bgr: np.ndarray | None = None

    def bgr(self) -> np.ndarray:
        """The frame as BGR uint8 (H, W, 3), made once."""
        if self._bgr is None:
            self._bgr = self.vframe.to_ndarray(format="bgr24")
        return self._bgr

    def ink_gray(self) -> np.ndarray:
        """The frame's ink gray (`preprocess.ink_gray` of `bgr()`)."""
        return self._ink.gray(self)
