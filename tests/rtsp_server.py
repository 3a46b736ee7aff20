"""A real RTSP server for the tests (GStreamer's gst-rtsp-server), and its controller.

The server itself runs under the system Python (``/usr/bin/python3``), where Debian's
``python3-gi`` and ``gir1.2-gst-rtsp-server-1.0`` live; the virtualenv only starts and stops
it as a subprocess. It serves an endless live H.264 stream at ``rtsp://127.0.0.1:PORT/live``:
a still image (e.g. a rendered Sudoku) or GStreamer's test pattern.

Run by hand::

    /usr/bin/python3 tests/rtsp_server.py --port 8554 --image page.png
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
MOUNT = "/live"

_PROBE = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ("x264enc", "rtph264pay", "imagefreeze", "pngdec", "videotestsrc")
           if Gst.ElementFactory.find(e) is None]
print(" ".join(missing))
"""


def missing_reason() -> str | None:
    """Why the server cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).is_file():
        return f"{SYSTEM_PYTHON} not found"
    try:
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"GStreamer RTSP server not available to {SYSTEM_PYTHON} ({last}); run .ci/system-deps.sh"
    if probe.stdout.strip():
        return f"GStreamer elements missing: {probe.stdout.strip()}; run .ci/system-deps.sh"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RtspServer:
    """Starts, kills and restarts the server subprocess on one port.

    Example:
        >>> with RtspServer(image=png) as server:
        ...     read(server.url)
    """

    def __init__(self, image: Path | None = None, port: int | None = None, fps: int = 15) -> None:
        self.image = image
        self.port = port or free_port()
        self.fps = fps
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The stream's URL."""
        return f"rtsp://127.0.0.1:{self.port}{MOUNT}"

    def start(self, timeout_s: float = 20.0) -> None:
        """Start the server and wait until it accepts connections."""
        command = [SYSTEM_PYTHON, __file__, "--port", str(self.port), "--fps", str(self.fps)]
        if self.image is not None:
            command += ["--image", str(self.image)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"RTSP server exited: {self.process.stderr.read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"RTSP server did not listen on port {self.port} in {timeout_s} s")

    def stop(self) -> None:
        """Kill the server (abruptly, as a crash would) and wait for it."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _launch_line(image: str | None, fps: int) -> str:
    if image:
        source = (
            f"filesrc location={image} ! pngdec ! videoconvert ! imagefreeze is-live=true "
            f"! video/x-raw,framerate={fps}/1"
        )
    else:
        source = f"videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate={fps}/1"
    return (
        f"( {source} ! videoconvert ! video/x-raw,format=I420 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def serve(port: int, image: str | None, fps: int) -> None:
    """Run the server until killed (system Python only)."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(_launch_line(image, fps))
    factory.set_shared(True)
    server.get_mount_points().add_factory(MOUNT, factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    print(f"serving rtsp://127.0.0.1:{port}{MOUNT}", flush=True)
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    loop.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="serve a live H.264 stream over RTSP")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--image", help="PNG to stream (default: a test pattern)")
    parser.add_argument("--fps", type=int, default=15)
    args = parser.parse_args()
    serve(args.port, args.image, args.fps)
    sys.exit(0)
