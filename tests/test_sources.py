"""Sources: classification, file decoding and timing, errors for people."""

from __future__ import annotations

import pytest
from rtsp_server import free_port

from streamocr.errors import SourceError
from streamocr.sources import open_source, source_kind
from streamocr.synth.clips import build_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A short clip of a moving camera over a printed puzzle, with its truth."""
    return build_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=30, size=(320, 240))


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("clip.mp4", "file"),
        ("/videos/clip.mkv", "file"),
        ("0", "camera"),
        ("/dev/video2", "camera"),
        ("rtsp://10.0.0.5:554/cam", "stream"),
        ("RTSP://host/cam", "stream"),  # schemes are case-insensitive
        ("http://host/mjpeg", "stream"),
        ("https://host/live/index.m3u8", "stream"),
    ],
)
def test_source_kind(spec, kind):
    assert source_kind(spec) == kind


def test_file_yields_every_frame_in_order(clip):
    source = open_source(str(clip.path))
    assert not source.info.live
    assert (source.info.width, source.info.height) == clip.size
    assert source.info.frame_count == clip.frames
    frames = list(source.frames())
    source.close()
    assert [f.index for f in frames] == list(range(clip.frames))
    pts = [f.pts_s for f in frames]
    assert pts == sorted(pts)
    assert pts[1] - pts[0] == pytest.approx(1 / clip.fps, abs=1e-3)
    assert source.state == "ended"


def test_stop_ends_frames_early(clip):
    source = open_source(str(clip.path))
    taken = []
    for frame in source.frames():
        taken.append(frame.index)
        if len(taken) == 5:
            source.stop()
    assert taken == [0, 1, 2, 3, 4]


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    return path


def _text(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 100)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.mp4", "video file not found"),
        (lambda tmp: tmp, "video file not a file"),  # a folder
        (_corrupt, "cannot open video file"),
        (_text, "cannot open video file"),
    ],
)
def test_bad_files_raise_source_error(tmp_path, make, message):
    with pytest.raises(SourceError, match=message):
        open_source(str(make(tmp_path)))


def test_unreachable_stream_fails_fast_without_retrying():
    url = f"rtsp://127.0.0.1:{free_port()}/live"
    with pytest.raises(SourceError, match="cannot open stream"):
        open_source(url, open_timeout_s=3, reconnect_attempts=5)
