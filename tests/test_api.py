"""The public Python API: read_image, Reader, StreamReader, process_video."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import streamocr
from streamocr.synth.builders import PUZZLE, SOLUTION, synthetic_photo
from streamocr.synth.clips import build_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "clip.mp4"
    return build_clip(path, frames=40, size=(480, 360), seed=3)


def test_read_image_from_an_array_and_from_a_path(tmp_path):
    photo = synthetic_photo(seed=1)
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), photo.image)
    for image in (photo.image, str(path), path):
        result = streamocr.read_image(image)
        assert result.found and result.status == "solved"
        assert result.reading.digit_string == PUZZLE
        assert "".join(map(str, result.solution)) == SOLUTION
        assert result.track_id is None  # a still image has no track


def test_read_image_of_a_missing_file_raises_an_input_error(tmp_path):
    with pytest.raises(streamocr.InputError, match="no such file"):
        streamocr.read_image(tmp_path / "nope.jpg")


def test_reader_reads_many_photos_with_one_model():
    reader = streamocr.Reader.from_config(streamocr.load_config(None, ["recognition.device=cpu"]))
    results = [reader.read(synthetic_photo(seed=s).image) for s in (1, 2)]
    assert [r.reading.digit_string for r in results] == [PUZZLE, PUZZLE]
    blank = np.full((240, 320, 3), 255, np.uint8)
    assert not reader.read(blank).found


def test_stream_reader_confirms_a_reading_over_frames(clip):
    import av

    stream = streamocr.StreamReader.from_config()
    shown, tracks = [], set()
    with av.open(str(clip.path)) as container:
        for frame in container.decode(video=0):
            results = stream.update(frame.to_ndarray(format="bgr24"))
            solved = [r for r in results if r.status == "solved"]
            shown.append(solved[0].reading.digit_string if solved else None)
            tracks.update(r.track_id for r in results)
    readings = {s for s in shown if s is not None}
    assert readings == {PUZZLE}  # never anything else
    assert shown.index(PUZZLE) <= 5  # confirmed within a few frames
    assert None not in tracks


def test_process_video_has_the_defaults_of_streamocr_run(clip, tmp_path):
    records: list[dict] = []
    summary = streamocr.process_video(str(clip.path), jsonl=str(tmp_path / "api.jsonl"))
    assert summary.frames_in == summary.frames_out == clip.frames
    subprocess.run(
        [sys.executable, "-m", "streamocr", "run", str(clip.path), "--no-display"]
        + ["--jsonl", str(tmp_path / "cli.jsonl")],
        check=True,
        capture_output=True,
    )

    def lines(name):
        out = []
        for line in (tmp_path / name).read_text().splitlines():
            record = json.loads(line)
            record.pop("latency_ms")
            out.append(record)
        return out

    records = lines("api.jsonl")
    assert records == lines("cli.jsonl")
    assert any(r["digits"] == PUZZLE and r["track"] is not None for r in records)


def test_importing_the_package_stays_light():
    code = "import sys, streamocr; print('cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
