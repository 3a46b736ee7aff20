"""The ink gray straight from a decoded frame's YUV planes: bit for bit what the BGR route
gives, on every colour matrix, range and size; BGR made only where it is drawn."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from streamocr import yuv
from streamocr.pipeline import VideoPipeline
from streamocr.preprocess import ink_gray
from streamocr.reader import SudokuReader
from streamocr.sinks import JsonLinesSink, VideoFileSink
from streamocr.sources import open_source
from streamocr.synth.clips import build_clip
from streamocr.types import Frame

BT601, BT709, UNSPECIFIED, SMPTE170M, BT2020 = 5, 1, 2, 6, 9
LIMITED, FULL = 1, 2


def _random_frame(width, height, fmt, colorspace, color_range, seed=0):
    """A frame of random planes (every value, in and out of the legal range)."""
    frame = av.VideoFrame(width, height, fmt)
    rng = np.random.default_rng(seed)
    for plane in frame.planes:
        plane.update(rng.integers(0, 256, plane.buffer_size, dtype=np.uint8).tobytes())
    frame.colorspace = colorspace
    frame.color_range = color_range
    return frame


@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (1920, 1080), (854, 480), (642, 360)])
@pytest.mark.parametrize(
    ("fmt", "colorspace", "color_range"),
    [
        ("yuv420p", UNSPECIFIED, 0),
        ("yuv420p", BT601, LIMITED),
        ("yuv420p", SMPTE170M, LIMITED),
        ("yuv420p", BT709, LIMITED),
        ("yuv420p", BT709, FULL),
        ("yuv420p", BT2020, LIMITED),
        ("yuvj420p", UNSPECIFIED, 0),
        ("yuvj420p", BT709, FULL),
    ],
)
def test_the_ink_gray_from_yuv_equals_the_ink_gray_of_swscales_bgr(
    size, fmt, colorspace, color_range
):
    width, height = size
    ink = yuv.YuvInk()
    for seed in range(2):
        vframe = _random_frame(width, height, fmt, colorspace, color_range, seed)
        reference = ink_gray(vframe.to_ndarray(format="bgr24"))
        assert np.array_equal(yuv.YuvFrame(vframe, ink).ink_gray(), reference)
    # The planes' own arithmetic was used (not the check's BGR route): it is swscale's.
    full = fmt == "yuvj420p" or color_range == FULL
    direct = yuv.ink_gray_yuv420(vframe, yuv._coefficients(colorspace, full))
    assert np.array_equal(direct, reference)
    assert all(c is not None for c in ink._checked.values())


def test_a_format_whose_gray_differs_goes_through_bgr_for_good(monkeypatch):
    # A converter this module does not match (here: coefficients made wrong) is noticed on
    # the first frame, and that format's frames are converted through BGR from then on.
    wrong = yuv._coefficients(UNSPECIFIED, False) + np.int32([0, 0, 0, 0, 0, 40])
    monkeypatch.setattr(yuv, "_coefficients", lambda colorspace, full: wrong)
    ink = yuv.YuvInk()
    made = []
    for seed in range(3):
        vframe = _random_frame(320, 240, "yuv420p", UNSPECIFIED, 0, seed)
        frame = yuv.YuvFrame(vframe, ink)
        assert np.array_equal(frame.ink_gray(), ink_gray(vframe.to_ndarray(format="bgr24")))
        made.append(frame._bgr is not None)
    assert made == [True, True, True]
    assert list(ink._checked.values()) == [None]
    # Another pixel format (4:4:4): through BGR, and still right.
    vframe = _random_frame(320, 240, "yuv444p", UNSPECIFIED, 0)
    gray = yuv.YuvFrame(vframe, ink).ink_gray()
    assert np.array_equal(gray, ink_gray(vframe.to_ndarray(format="bgr24")))


def test_a_frame_needs_a_picture_and_makes_bgr_from_its_decoded_planes():
    with pytest.raises(ValueError, match="needs an image"):
        Frame(None, 0, 0.0)
    with pytest.raises(ValueError, match=r"uint8 \(H, W, 3\)"):
        Frame(np.zeros((4, 4), np.uint8), 0, 0.0)
    vframe = _random_frame(64, 48, "yuv420p", UNSPECIFIED, 0)
    frame = Frame(None, 3, 0.1, "clip", decoded=yuv.YuvFrame(vframe, yuv.YuvInk()))
    bgr = vframe.to_ndarray(format="bgr24")
    assert np.array_equal(frame.image, bgr) and frame.image is frame.image  # made once
    assert np.array_equal(frame.ink_gray(), ink_gray(bgr))
    plain = Frame(bgr, 0, 0.0)
    assert plain.decoded is None and np.array_equal(plain.ink_gray(), ink_gray(bgr))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return build_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=24, size=(320, 240))


def _count_bgr(monkeypatch):
    made = []
    original = yuv.YuvFrame.bgr

    def bgr(self):
        if self._bgr is None:
            made.append(1)
        return original(self)

    monkeypatch.setattr(yuv.YuvFrame, "bgr", bgr)
    return made


def test_a_json_lines_run_never_converts_a_frame_to_bgr_but_the_first(clip, tmp_path, monkeypatch):
    made = _count_bgr(monkeypatch)
    jsonl = JsonLinesSink(tmp_path / "f.jsonl")
    VideoPipeline(open_source(str(clip.path)), SudokuReader(), jsonl=jsonl).run()
    records = [json.loads(line) for line in jsonl.path.read_text().splitlines()]
    assert len(records) == 24 and any(r["digits"] for r in records)
    assert len(made) == 1  # the first frame, to check the planes' gray against BGR's


def test_a_run_that_draws_converts_every_frame_once(clip, tmp_path, monkeypatch):
    made = _count_bgr(monkeypatch)
    source = open_source(str(clip.path))
    info = source.info
    video = VideoFileSink(tmp_path / "a.mp4", info.width, info.height, info.fps, info.time_base)
    VideoPipeline(source, SudokuReader(), video=video).run()
    assert len(made) == 24
    with av.open(str(tmp_path / "a.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 24


def test_locate_needs_the_image_unless_it_tracks_and_has_the_gray():
    from streamocr.config import StabilizeSettings
    from streamocr.stream import StreamReader

    gray = np.full((240, 320), 255, np.uint8)
    tracking = StabilizeSettings()
    assert StreamReader(SudokuReader(), tracking).locate(None, 0, gray=gray) == []
    with pytest.raises(ValueError, match="needs the frame's image"):
        StreamReader(SudokuReader(), tracking).locate(None, 0)
    with pytest.raises(ValueError, match="needs the frame's image"):
        StreamReader(SudokuReader(), StabilizeSettings(enabled=False)).locate(None, 0, gray=gray)
