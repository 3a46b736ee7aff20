"""Property-based fuzzing of photo loading and reading (issue 17) with hypothesis.

Mutated JPEG and PNG files (flipped bytes, cut tails, inserted junk, size fields set to
anything) must each come back as an image or as one `InputError`, never as another
exception, and never as an image larger than the pixel limit. Whatever decodes is read
by the real reader without an exception. The runs are derandomised (the same examples in
every CI run) and bounded in number.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamocr.errors import InputError
from streamocr.photos import header_size, load_image
from streamocr.recognize import DEFAULT_MODEL
from streamocr.synth.builders import synthetic_photo

pytestmark = pytest.mark.reliability

MAX_PIXELS = 4_000_000
FUZZ = settings(
    max_examples=120,
    deadline=None,  # a shared CI machine: time is not the property under test
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _encoded(ext: str) -> bytes:
    image = synthetic_photo(seed=2, scene_size=(160, 120)).image
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


SEEDS = {".jpg": _encoded(".jpg"), ".png": _encoded(".png")}


def _png_with_size(data: bytes, width: int, height: int) -> bytes:
    """The PNG with its IHDR size replaced (and its checksum made right again)."""
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return data[:16] + bytes(ihdr) + crc + data[33:]


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its start-of-frame size replaced."""
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


@st.composite
def mutated_images(draw) -> tuple[str, bytes]:
    """A JPEG or PNG with a few random mutations, sometimes a forged size field."""
    ext = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[ext])
    if draw(st.booleans()):
        width = draw(st.integers(0, 70000))
        height = draw(st.integers(0, 70000))
        if ext == ".png":
            data = bytearray(_png_with_size(bytes(data), width, height))
        else:
            data = bytearray(_jpeg_with_size(bytes(data), min(width, 65535), min(height, 65535)))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "zero"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "zero":
            data[at : at + 32] = bytes(len(data[at : at + 32]))
    return ext, bytes(data)


@FUZZ
@given(case=mutated_images())
def test_load_image_gives_an_image_or_one_input_error(tmp_path_factory, case):
    ext, data = case
    path = tmp_path_factory.mktemp("fuzz") / f"mutated{ext}"
    path.write_bytes(data)
    try:
        image = load_image(path, max_pixels=MAX_PIXELS)
    except InputError as exc:
        assert str(exc).startswith(str(path))
        assert "\n" not in str(exc)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= MAX_PIXELS


@FUZZ
@given(data=st.binary(max_size=64))
def test_header_size_never_raises_on_junk(data):
    for prefix in (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"BM", b"GIF89a"):
        size = header_size(prefix + data)
        assert size is None or (len(size) == 2 and min(size) >= 0)


@pytest.fixture(scope="module")
def reader():
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"no model at {DEFAULT_MODEL}")
    from streamocr.reader import SudokuReader

    return SudokuReader()


@settings(FUZZ, max_examples=30)
@given(case=mutated_images())
def test_whatever_decodes_is_read_without_an_exception(tmp_path_factory, reader, case):
    ext, data = case
    path: Path = tmp_path_factory.mktemp("fuzz") / f"mutated{ext}"
    path.write_bytes(data)
    try:
        image = load_image(path, max_pixels=MAX_PIXELS)
    except InputError:
        return
    result = reader.read(image)
    assert result is not None
