"""Sinks: the MP4 keeps frame count and timing, JSON lines are flushed, errors for people."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest

from streamocr.errors import SinkError
from streamocr.sinks import JsonLinesSink, VideoFileSink, pick_encoder


def _frames(n, size=(96, 64)):
    w, h = size
    for i in range(n):
        image = np.zeros((h, w, 3), np.uint8)
        image[:, : (i * 7) % w] = (40, 120, 220)
        yield image


@pytest.mark.parametrize(
    ("encoder", "time_base", "pts_s"),
    [
        ("libx264", Fraction(1, 15360), [i / 30 for i in range(12)]),
        # Irregular timestamps (a live source) survive in a 90 kHz time base.
        ("libx264", Fraction(1, 90000), [0.0, 0.05, 0.09, 0.2, 0.21, 0.3]),
        ("mpeg4", Fraction(1, 15360), [i / 30 for i in range(12)]),  # the fallback encoder
    ],
)
def test_video_keeps_count_and_timestamps(tmp_path, encoder, time_base, pts_s):
    path = tmp_path / "out.mp4"
    sink = VideoFileSink(path, 96, 64, Fraction(30), time_base, encoder=encoder)
    for image, t in zip(_frames(len(pts_s)), pts_s, strict=True):
        sink.write(image, t)
    sink.close()
    sink.close()  # closing twice is harmless
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = sorted(float(f.time) for f in container.decode(stream))
    assert len(times) == len(pts_s)
    assert times == pytest.approx(pts_s, abs=1e-3)


def test_pick_encoder_falls_back():
    assert pick_encoder(("no-such-encoder", "mpeg4")) == "mpeg4"
    with pytest.raises(SinkError, match="no video encoder"):
        pick_encoder(("no-such-encoder",))


def test_odd_frame_size_is_encoded(tmp_path):
    sink = VideoFileSink(tmp_path / "odd.mp4", 95, 63, Fraction(25))
    for i, image in enumerate(_frames(3, (95, 63))):
        sink.write(image, i / 25)
    sink.close()
    with av.open(str(tmp_path / "odd.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3


def test_jsonl_is_flushed_per_line(tmp_path):
    path = tmp_path / "f.jsonl"
    sink = JsonLinesSink(path)
    sink.write({"frame": 0, "found": False})
    sink.write({"frame": 1, "found": True})
    # Read while the sink is still open: under its temporary name until it is closed.
    lines = sink.partial_path.read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == [0, 1]
    assert not path.exists()
    sink.close()
    assert path.read_text().splitlines() == lines
    assert not sink.partial_path.exists()


@pytest.mark.parametrize(
    "make_sink",
    [
        lambda p: JsonLinesSink(p / "blocker" / "f.jsonl"),
        lambda p: VideoFileSink(p / "blocker" / "a.mp4", 64, 64, Fraction(30)),
    ],
)
def test_unwritable_output_raises_sink_error(tmp_path, make_sink):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(SinkError, match="cannot write"):
        make_sink(tmp_path)


@pytest.mark.parametrize(
    "make_sink, name",
    [
        (lambda path: JsonLinesSink(path), "f.jsonl"),
        (lambda path: VideoFileSink(path, 64, 64, Fraction(30)), "a.mp4"),
    ],
)
def test_missing_output_folders_are_made(tmp_path, make_sink, name):
    path = tmp_path / "out" / "run1" / name
    make_sink(path).close()
    assert path.parent.is_dir()
    # An empty JSON-lines file is complete; a video without frames is not written.
    assert path.exists() == name.endswith(".jsonl")


@pytest.mark.parametrize(
    ("compact", "options"), [(False, b"rc_lookahead=10"), (True, b"rc_lookahead=5")]
)
def test_a_compact_encoder_holds_fewer_frames(tmp_path, compact, options):
    if pick_encoder() != "libx264":
        pytest.skip("x264 options only")
    path = tmp_path / "a.mp4"
    sink = VideoFileSink(path, 64, 48, Fraction(30), compact=compact)
    for i in range(12):
        sink.write(np.full((48, 64, 3), 10 * i, np.uint8), i / 30)
    sink.close()
    data = path.read_bytes()
    assert options in data
    assert (b"bframes=1 " in data) == compact
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12
