"""HTTP sources on 127.0.0.1: an HLS recording (ends like a file) and a live MJPEG stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from streamocr.errors import SourceError
from streamocr.sources import open_source
from streamocr.synth.builders import synthetic_photo

FRAMES = 45


def _serve(handler) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hls_url(tmp_path: Path) -> Iterator[str]:
    """A finished HLS playlist (VOD) of FRAMES frames, served over HTTP."""
    image = synthetic_photo(seed=2, scene_size=(320, 240)).image
    out = av.open(
        str(tmp_path / "index.m3u8"),
        "w",
        format="hls",
        options={"hls_time": "1", "hls_playlist_type": "vod"},
    )
    stream = out.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
    for i in range(FRAMES):
        frame = av.VideoFrame.from_ndarray(np.roll(image, i, axis=1), format="bgr24")
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    yield from (f"{base}/index.m3u8" for base in _serve(partial(Quiet, directory=str(tmp_path))))


@pytest.fixture
def mjpeg_url() -> Iterator[str]:
    """A live MJPEG stream (multipart/x-mixed-replace) that sends FRAMES frames, then stops."""
    ok, jpeg = cv2.imencode(".jpg", synthetic_photo(seed=3, scene_size=(320, 240)).image)
    assert ok
    data = jpeg.tobytes()

    class Mjpeg(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for _ in range(FRAMES):
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                self.wfile.write(b"Content-Length: %d\r\n\r\n" % len(data) + data + b"\r\n")
                time.sleep(0.005)

    yield from (f"{base}/stream.mjpg" for base in _serve(Mjpeg))


def test_hls_recording_ends_like_a_file(hls_url):
    source = open_source(hls_url)
    try:
        assert not source.info.live  # every frame, no reconnection at its end
        frames = list(source.frames())
    finally:
        source.close()
    assert len(frames) == FRAMES
    assert [f.index for f in frames] == list(range(FRAMES))
    assert frames[0].image.shape == (240, 320, 3)


def test_mjpeg_stream_is_live_and_its_end_is_reported(mjpeg_url):
    source = open_source(mjpeg_url, reconnect_attempts=0)
    frames = 0
    try:
        assert source.info.live
        with pytest.raises(SourceError, match="stream lost"):
            for frame in source.frames():
                assert frame.image.shape == (240, 320, 3)
                frames += 1
    finally:
        source.close()
    assert frames >= FRAMES - 2  # the last part of the buffer may be cut with the connection
