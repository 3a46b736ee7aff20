"""A real RTSP server on 127.0.0.1: the pipeline reads it and survives a server restart."""

from __future__ import annotations

import threading
import time

import av
import cv2
import numpy as np
import pytest
from rtsp_server import RtspServer, missing_reason

from streamocr.config import PipelineSettings, StabilizeSettings
from streamocr.pipeline import VideoPipeline
from streamocr.reader import SudokuReader
from streamocr.sinks import VideoFileSink
from streamocr.sources import open_source
from streamocr.synth.builders import synthetic_photo

_REASON = missing_reason()
pytestmark = [
    pytest.mark.rtsp,
    pytest.mark.skipif(_REASON is not None, reason=f"no RTSP server: {_REASON}"),
]

NO_TRACKING = StabilizeSettings(enabled=False)


class EmptyCells:
    """Stands in for the digit model: the test is about the stream, not the digits."""

    def recognize(self, cells: np.ndarray) -> np.ndarray:
        probabilities = np.zeros((len(cells), 10), np.float32)
        probabilities[:, 0] = 1.0
        return probabilities


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), synthetic_photo(seed=3, scene_size=(480, 360)).image)
    return path


def _settings(**kwargs):
    base = dict(open_timeout_s=10.0, read_timeout_s=3.0, reconnect_backoff_s=0.2)
    return PipelineSettings(**(base | kwargs))


def test_pipeline_reads_the_stream(page, tmp_path):
    with RtspServer(image=page) as server:
        s = _settings(max_frames=20)
        source = open_source(server.url, s.open_timeout_s, s.read_timeout_s)
        info = source.info
        assert info.live and (info.width, info.height) == (480, 360)
        video = VideoFileSink(
            tmp_path / "a.mp4", info.width, info.height, info.fps, start_at_zero=True
        )
        reader = SudokuReader(recognizer=EmptyCells())
        pipeline = VideoPipeline(source, reader, s, video=video, stabilize=NO_TRACKING)
        summary = pipeline.run()
    assert pipeline.policy == "drop"
    assert summary.frames_in == 20
    assert summary.frames_out + summary.dropped == 20
    assert summary.frames_out > 0
    with av.open(str(tmp_path / "a.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == summary.frames_out


def test_pipeline_survives_a_server_restart(page):
    server = RtspServer(image=page)
    server.start()
    try:
        s = _settings(max_frames=60)
        source = open_source(
            server.url, s.open_timeout_s, s.read_timeout_s, reconnect_backoff_s=0.2
        )
        pipeline = VideoPipeline(
            source, SudokuReader(recognizer=EmptyCells()), s, stabilize=NO_TRACKING
        )
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.update(summary=pipeline.run()))
        runner.start()
        deadline = time.monotonic() + 30
        while pipeline.frames_in < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        frames_before = pipeline.frames_in
        server.stop()  # a crash: the connection drops
        time.sleep(1.0)
        server.start()  # the same port
        runner.join(timeout=60)
        assert not runner.is_alive(), "the pipeline did not finish after the restart"
    finally:
        server.stop()
    summary = outcome["summary"]
    assert frames_before >= 15
    assert summary.reconnects >= 1
    assert summary.frames_in == 60
    assert summary.frames_out + summary.dropped == 60
