"""Reliability under hostile input and faults (issue 17): nothing lost, no traceback.

Each test reproduces one failure that a hostile but fair user found, with generated
inputs: outputs that overwrite the input, bad output extensions, huge image headers, NaN
timeouts, damaged files, raw streams that change size, a full disk, signals at awkward
moments. The RTSP cases are in test_reliability_rtsp.py, the fuzzing in
test_reliability_fuzz.py.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from helpers import needs_model

from streamocr.config import load_config
from streamocr.errors import ConfigError, InputError, SourceError
from streamocr.photos import header_size, load_image
from streamocr.redact import redact_text
from streamocr.sinks import JsonLinesSink, VideoFileSink
from streamocr.sources import PyAVSource, open_source
from streamocr.synth.clips import build_clip

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.reliability


# Helpers: the command line as a person runs it, and what valid outputs are.


def streamocr(*args: str, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m streamocr ARGS` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "streamocr", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        **kwargs,
    )


def streamocr_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """Run the command in this process (quicker than a new one, for checks made early)."""
    from streamocr.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def hear_ctrl_c() -> None:
    """In a child about to run streamocr: SIGINT at its default, so Python turns it into
    KeyboardInterrupt (a suite started from a background shell job inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_streamocr(*args: str, **kwargs) -> subprocess.Popen:
    """Start `python -m streamocr ARGS` without waiting, able to hear Ctrl-C."""
    return subprocess.Popen(
        [sys.executable, "-m", "streamocr", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        preexec_fn=hear_ctrl_c,
        **kwargs,
    )


def assert_one_line_error(stderr: str, *phrases: str) -> None:
    """No traceback, and exactly one ``streamocr: error:`` line that says `phrases`."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("streamocr: error:")]
    assert len(errors) == 1, stderr
    for phrase in phrases:
        assert phrase in errors[0], stderr


def decoded_frames(path: Path) -> int:
    """Frames a video file decodes to (raises if it is not a video)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def assert_valid_outputs(
    video: Path | None, jsonl: Path, video_failed: bool = False, live: bool = False
) -> int:
    """Every JSON line complete, frames numbered from 0 (in order, with gaps where a live
    source dropped frames), and the MP4 holding one frame per record (no MP4 at all when
    there is no record, or when writing it failed). Returns the number of records."""
    records = []
    if jsonl.exists():
        text = jsonl.read_text()
        assert text == "" or text.endswith("\n"), "a cut last line"
        records = [json.loads(line) for line in text.splitlines()]
    numbers = [r["frame"] for r in records]
    if live:
        assert numbers == sorted(set(numbers))
    else:
        assert numbers == list(range(len(records)))
    if video is None:
        pass
    elif video_failed:
        assert not video.exists()
    elif records:
        assert decoded_frames(video) == len(records)
    else:
        assert not video.exists() or decoded_frames(video) > 0
    leftovers = [p.name for p in jsonl.parent.iterdir() if p.name.endswith(".part")]
    assert not leftovers, leftovers
    return len(records)


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory) -> Path:
    """A short small clip: a printed puzzle that leaves the view and comes back."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    build_clip(path, frames=48, size=(192, 144), seed=5)
    return path


# 1. Outputs that would destroy the input (or each other) are refused before anything opens.


@pytest.mark.parametrize(
    "outputs",
    [
        ["--out", "{input}"],
        ["--jsonl", "{input}"],
        ["--out", "{link}"],  # a symbolic link to the input
        ["--out", "{dir}/same.mp4", "--jsonl", "{dir}/same.mp4"],
    ],
)
@pytest.mark.parametrize("command", ["run", "eval-video"])
def test_outputs_that_are_the_input_are_refused(small_clip, tmp_path, capsys, outputs, command):
    source = tmp_path / "in.mp4"
    source.write_bytes(small_clip.read_bytes())
    (tmp_path / "link.mp4").symlink_to(source)
    names = {"input": str(source), "link": str(tmp_path / "link.mp4"), "dir": str(tmp_path)}
    args = [a.format(**names) for a in outputs]
    extra = ["--no-display"] if command == "run" else ["--truth", str(tmp_path / "t.json")]
    result = streamocr_here(capsys, command, str(source), *args, *extra)
    assert result.returncode == 6
    assert_one_line_error(result.stderr, "same file" if "same" in args[-1] else "input video")
    assert source.read_bytes() == small_clip.read_bytes()
    assert not (tmp_path / "same.mp4").exists()


# 4. A video output whose extension names no container fails before the run, harmlessly.


@pytest.mark.parametrize("name", ["noext", "out.txt", "out.jsonl"])
@pytest.mark.parametrize("command", ["run", "eval-video"])
def test_unknown_video_extension_is_refused_and_harmless(
    small_clip, tmp_path, capsys, name, command
):
    target = tmp_path / name
    target.write_text("keep me")
    extra = ["--no-display"] if command == "run" else ["--truth", str(tmp_path / "t.json")]
    result = streamocr_here(capsys, command, str(small_clip), "--out", str(target), *extra)
    assert result.returncode == 6
    assert_one_line_error(result.stderr, "extension")
    assert target.read_text() == "keep me"


@pytest.mark.parametrize(
    "truth",
    [
        {"size": [192, 144], "frames": [[0, 1], [2, 3]]},  # entries as lists, not tables
        {"size": [192, 144], "frames": [{"corners": [[0, 0]] * 4, "digits": 5}]},
        {"size": [192, 144], "frames": ["frame"]},
        [1, 2, 3],
    ],
)
def test_a_truth_file_of_another_shape_is_one_line(small_clip, tmp_path, capsys, truth):
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(truth))
    result = streamocr_here(capsys, "eval-video", str(small_clip), "--truth", str(path))
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "truth file")


# 6. A run that fails or writes nothing never leaves a 0-byte video or damages an old one.


def test_an_unopenable_jsonl_keeps_the_existing_video(small_clip, tmp_path, capsys):
    video = tmp_path / "a.mp4"
    video.write_bytes(b"an earlier run's video")
    (tmp_path / "blocker").write_text("a file where a folder should be")
    result = streamocr_here(
        capsys,
        "run", str(small_clip), "--out", str(video), "--jsonl", str(tmp_path / "blocker" / "f"),
        "--no-display",
    )  # fmt: skip
    assert result.returncode == 6
    assert_one_line_error(result.stderr, "cannot write")
    assert video.read_bytes() == b"an earlier run's video"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("existing", [None, b"an earlier run's video"])
def test_a_video_without_frames_is_not_written(tmp_path, existing):
    video = tmp_path / "a.mp4"
    if existing is not None:
        video.write_bytes(existing)
    VideoFileSink(video, 64, 48, Fraction(25)).close()
    assert (video.read_bytes() if video.exists() else None) == existing
    assert list(tmp_path.iterdir()) == ([video] if existing else [])


def test_outputs_appear_only_when_complete(tmp_path):
    video, jsonl = tmp_path / "a.mp4", tmp_path / "f.jsonl"
    video.write_bytes(b"old")
    sink = VideoFileSink(video, 64, 48, Fraction(25))
    lines = JsonLinesSink(jsonl)
    for i in range(5):
        sink.write(np.full((48, 64, 3), 40 * i, np.uint8), i / 25)
        lines.write({"frame": i})
    assert video.read_bytes() == b"old" and not jsonl.exists()
    sink.close()
    lines.close()
    assert decoded_frames(video) == 5
    assert len(jsonl.read_text().splitlines()) == 5


# 3. Image headers that claim huge sizes are refused before decoding, and the batch goes on.


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # With an image data chunk, OpenCV itself raised (cv2.error) on 60000x60000: 68 bytes.
    idat = chunk(b"IDAT", zlib.compress(bytes(8)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose start-of-frame segment says `width` x `height`."""
    ok, encoded = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    data = bytearray(encoded.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


HUGE_IMAGES = [
    ("claims60000.png", _png_header(60000, 60000)),
    ("claims20000.jpg", _jpeg_claiming(20000, 20000)),
    ("claims24000.png", _png_header(24000, 24000)),
]


@pytest.mark.parametrize(("name", "data"), HUGE_IMAGES)
def test_a_huge_image_header_is_refused_before_decoding(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    assert header_size(data)[0] >= 20000
    with pytest.raises(InputError, match="too large"):
        load_image(path)


def test_the_pixel_limit_is_configurable(tmp_path):
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), np.zeros((30, 40, 3), np.uint8))
    assert load_image(path).shape == (30, 40, 3)
    with pytest.raises(InputError, match="too large"):
        load_image(path, max_pixels=1000)


@needs_model
def test_read_goes_on_after_a_huge_image_with_bounded_memory(tmp_path, photo):
    paths = []
    for name, data in HUGE_IMAGES:
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), photo.image)
    code = (
        "import resource, sys; from streamocr.cli import main; rc = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
        "sys.exit(rc)"
    )

    def read(*images: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code, "read", "--json", *images],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=180,
        )

    def peak_mib(result: subprocess.CompletedProcess) -> float:
        return int(result.stderr.strip().splitlines()[-1]) / 1024

    result = read(*paths, str(good))
    assert "Traceback" not in result.stderr
    assert result.returncode == 1  # some images failed
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == [*paths, str(good)]
    assert all("too large" in r["error"] for r in records[:-1])
    assert records[-1]["error"] is None and records[-1]["found"]
    # The huge headers cost next to nothing: the peak is that of reading the good photo
    # alone (model, compiled kernels), not the 2.4 GiB a decoded 20000x20000 image takes.
    baseline = read(str(good))
    assert baseline.returncode == 0
    extra = peak_mib(result) - peak_mib(baseline)
    assert extra < 256, f"huge headers added {extra:.0f} MiB to the peak"


@needs_model
def test_decoder_warnings_stay_off_the_terminal(tmp_path, photo):
    ok, encoded = cv2.imencode(".jpg", photo.image)
    data = bytearray(encoded.tobytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # libjpeg: "Corrupt JPEG data"
    path = tmp_path / "damaged.jpg"
    path.write_bytes(bytes(data))
    result = streamocr("read", str(path))
    assert "Corrupt JPEG" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip() == ""


def test_a_missing_camera_is_one_line():
    # In a new process: OpenCV's probing writes to the file descriptor, not to sys.stderr.
    result = streamocr("run", "9", "--no-display")
    assert result.returncode == 5
    assert_one_line_error(result.stderr, "camera 9")
    assert len(result.stderr.strip().splitlines()) == 1


# 7. NaN and infinity are not numbers a timeout or a margin may take.


@pytest.mark.parametrize(
    "key",
    [
        "pipeline.open_timeout_s",
        "pipeline.read_timeout_s",
        "pipeline.reconnect_backoff_s",
        "stabilize.confirm_margin",
        "stabilize.retract_margin",
        "stabilize.settle_empty_margin",
        "stabilize.decay",
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
def test_non_finite_numbers_are_refused(key, value):
    with pytest.raises(ConfigError, match=rf"'{key}' must be a finite number"):
        load_config(None, [f"{key}={value}"])


@pytest.mark.parametrize("name", ["open_timeout_s", "read_timeout_s", "reconnect_backoff_s"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0])
def test_a_source_refuses_non_finite_timeouts(small_clip, name, value):
    with pytest.raises(ValueError, match=name):
        PyAVSource(str(small_clip), **{name: value})


def test_a_nan_timeout_on_the_command_line_is_one_line(capsys):
    result = streamocr_here(
        capsys, "run", "rtsp://127.0.0.1:9/x", "--set", "pipeline.read_timeout_s=nan"
    )
    assert result.returncode == 3
    assert_one_line_error(result.stderr, "finite")


# 8. Ctrl-C while a stream is being opened ends the run at once.


@needs_model
def test_ctrl_c_while_opening_a_stream_exits_130_at_once():
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        silent.settimeout(120)
        port = silent.getsockname()[1]
        process = start_streamocr(
            "run", f"rtsp://127.0.0.1:{port}/live", "--no-display",
            "--set", "pipeline.open_timeout_s=30",
        )  # fmt: skip
        conn, _ = silent.accept()  # the model is loaded and the open has begun
        time.sleep(0.5)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        waited_s = time.monotonic() - sent
        conn.close()
    assert process.returncode == 130, stderr
    assert waited_s < 3.0, f"exited {waited_s:.1f} s after Ctrl-C"
    assert "Traceback" not in stderr


# 5. A raw stream whose resolution changes keeps every frame.


def _raw_h264(path: Path, parts: list[tuple[int, int, int]]) -> int:
    """Raw H.264 (no container, no timestamps) of parts (width, height, frames) in a row."""
    data = b""
    for n, (width, height, frames) in enumerate(parts):
        part = path.with_suffix(f".{n}.h264")
        with av.open(str(part), "w", format="h264") as out:
            stream = out.add_stream("libx264", rate=20)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for i in range(frames):
                image = np.full((height, width, 3), (i * 7) % 200, np.uint8)
                image[8:24, 4 + i : 20 + i] = 255
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        data += part.read_bytes()
    path.write_bytes(data)
    return sum(frames for _, _, frames in parts)


@needs_model
@pytest.mark.parametrize(
    "parts",
    [
        [(160, 120, 12)],  # a raw stream's clock starts below 0
        [(160, 120, 12), (96, 72, 12)],  # and its size changes midway
    ],
)
def test_a_raw_stream_keeps_every_frame(tmp_path, parts):
    source = tmp_path / "raw.h264"
    frames = _raw_h264(source, parts)
    video, jsonl = tmp_path / "a.mp4", tmp_path / "f.jsonl"
    result = streamocr(
        "run", str(source), "--out", str(video), "--jsonl", str(jsonl), "--no-display"
    )
    assert result.returncode == 0, result.stderr
    assert assert_valid_outputs(video, jsonl) == frames


# 9. A damaged stretch in a file is skipped and counted; only a file of damage fails.


def _damage(clip: Path, out: Path, first_packet: int, packets: int) -> None:
    """Overwrite `packets` packets' bytes from `first_packet` on with random bytes."""
    with av.open(str(clip)) as container:
        spans = [(p.pos, p.size) for p in container.demux(video=0) if p.size and p.pos >= 0]
    start = spans[first_packet][0]
    end = spans[first_packet + packets][0]
    data = bytearray(clip.read_bytes())
    data[start:end] = random.Random(1).randbytes(end - start)
    out.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def long_small_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    build_clip(path, frames=150, size=(128, 96), seed=6)
    return path


def test_a_damaged_stretch_is_skipped_and_counted(long_small_clip, tmp_path):
    damaged = tmp_path / "damaged.mp4"
    _damage(long_small_clip, damaged, first_packet=30, packets=70)  # > 50 in a row
    source = open_source(str(damaged))
    images = [frame.image for frame in source.frames()]
    source.close()
    assert source.decode_errors > 50
    # Every frame after the damage is there (from the next keyframe on), and the ones before.
    assert len(images) >= 150 - 70 - 30, (len(images), source.decode_errors)
    assert len(images) >= 30


def test_a_file_of_damage_fails_with_one_line(long_small_clip, tmp_path):
    damaged = tmp_path / "damaged.mp4"
    _damage(long_small_clip, damaged, first_packet=0, packets=148)
    source = open_source(str(damaged))
    with pytest.raises(SourceError, match="no frame decodes"):
        list(source.frames())
    source.close()


# Signals at random moments of a file run (before the first frame, mid-run, at the end):
# each leaves valid outputs and the documented exit code.


@needs_model
@pytest.mark.parametrize("seed", range(4))
def test_signals_at_random_moments_leave_valid_outputs(small_clip, tmp_path, seed):
    rng = random.Random(seed)
    signum = rng.choice([signal.SIGINT, signal.SIGTERM])
    delay_s = rng.uniform(0.0, 6.0)
    video, jsonl = tmp_path / "a.mp4", tmp_path / "f.jsonl"
    process = start_streamocr(
        "run", str(small_clip), "--out", str(video), "--jsonl", str(jsonl), "--no-display"
    )
    time.sleep(delay_s)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    expected = {signal.SIGINT: 130, signal.SIGTERM: 143}[signum]
    assert process.returncode in (0, expected), (delay_s, stderr)
    assert "Traceback" not in stderr
    records = assert_valid_outputs(video, jsonl)
    if process.returncode == 0:
        assert records == 48


@needs_model
def test_a_signal_while_the_command_starts_up_is_a_clean_interrupt(small_clip, tmp_path):
    # The first second loads the libraries (onnxruntime's compiled module, frozen
    # dataclasses built with exec): a Ctrl-C there once gave an ImportError traceback or
    # a death by SIGINT (-2) after "interrupted".
    # From 0.35 s: before that the interpreter itself is starting (nothing of streamocr runs
    # yet), longer on a loaded machine.
    for delay_s in (0.35, 0.5, 0.65, 0.8, 1.0, 1.3):
        run_dir = tmp_path / str(delay_s)
        run_dir.mkdir()
        video, jsonl = run_dir / "a.mp4", run_dir / "f.jsonl"
        process = start_streamocr(
            "run", str(small_clip), "--out", str(video), "--jsonl", str(jsonl), "--no-display"
        )
        time.sleep(delay_s)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode in (0, 130), (delay_s, process.returncode, stderr)
        assert "Traceback" not in stderr, (delay_s, stderr)
        if process.returncode == 130:  # before the run, or during it
            assert "streamocr: interrupted" in stderr or "stopped by SIGINT" in stderr, stderr
        assert_valid_outputs(video, jsonl)


# 10. A full disk: the write fails with one line after the run's summary; the JSON lines
# end at a complete line.


def _limit_file_size(max_bytes: int):
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit gets EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


@needs_model
@pytest.mark.parametrize(("limit_bytes", "with_video"), [(3000, False), (40000, True)])
def test_a_full_disk_is_one_line_and_leaves_complete_lines(
    small_clip, tmp_path, limit_bytes, with_video
):
    video, jsonl = tmp_path / "a.mp4", tmp_path / "f.jsonl"
    args = ["--jsonl", str(jsonl)] + (["--out", str(video)] if with_video else [])
    result = streamocr(
        "run", str(small_clip), *args, "--no-display", preexec_fn=_limit_file_size(limit_bytes)
    )
    assert result.returncode == 6, result.stderr
    assert_one_line_error(result.stderr, "cannot")
    assert "WARNING" not in result.stderr  # the failure is said once
    # An error exit still says what the run did, before its one error line.
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("streamocr: error:")
    assert any(line.startswith("streamocr: frames in ") for line in lines[:-1]), result.stderr
    records = assert_valid_outputs(video if with_video else None, jsonl, video_failed=True)
    assert jsonl.exists() and records > 0
    assert os.path.getsize(jsonl) <= limit_bytes


# 2. A password in a URL is never printed, logged or shown.


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("rtsp://admin:p@ss@cam/live", "rtsp://admin:***@cam/live"),  # '@' in the password
        ("http://cam/video?user=a&password=hunter2", "http://cam/video?user=a&password=***"),
        ("rtsp://TOKEN123@cam/live", "rtsp://***@cam/live"),  # a lone token may be a secret
        ("rtsp://cam:554/live", "rtsp://cam:554/live"),
        ("clip@2x.mp4", "clip@2x.mp4"),
        (
            "cannot open rtsp://a:b@h/x: refused; rtsp://c:d@e",
            "cannot open rtsp://a:***@h/x: refused; rtsp://c:***@e",
        ),
    ],
)
def test_urls_are_redacted(url, shown):
    assert redact_text(url) == shown


SECRET = "Hunter2-s3cret"


def test_a_refused_stream_does_not_print_its_password(capsys):
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"rtsp://viewer:{SECRET}@127.0.0.1:{port}/live"
    result = streamocr_here(capsys, "-v", "run", url, "--no-display")
    assert result.returncode == 5
    assert_one_line_error(result.stderr, "viewer:***@127.0.0.1")
    assert SECRET not in result.stderr + result.stdout


def test_a_missing_file_named_like_a_url_is_redacted_too(capsys):
    result = streamocr_here(capsys, "run", f"ftp://viewer:{SECRET}@nowhere/x.mp4", "--no-display")
    assert result.returncode == 5
    assert SECRET not in result.stderr


# 10. After a second signal (an abort), the summary counts the frames it discarded.


def test_a_second_stop_counts_the_frames_it_discards(small_clip, tmp_path):
    from test_pipeline import SlowReader

    from streamocr.config import PipelineSettings
    from streamocr.pipeline import VideoPipeline

    source = open_source(str(small_clip))
    info = source.info
    video = VideoFileSink(tmp_path / "a.mp4", info.width, info.height, info.fps, info.time_base)
    jsonl = JsonLinesSink(tmp_path / "f.jsonl")
    pipeline = VideoPipeline(source, SlowReader(0.1), PipelineSettings(queue_size=4), video, jsonl)

    def stop_twice() -> None:
        while pipeline.frames_out < 3:
            time.sleep(0.01)
        pipeline.stop("SIGINT")
        pipeline.stop("SIGINT")  # the second signal aborts: frames in flight are lost

    stopper = threading.Thread(target=stop_twice, daemon=True)
    stopper.start()
    summary = pipeline.run()
    stopper.join(timeout=10)
    assert summary.frames_in > summary.frames_out  # some were in flight
    assert summary.dropped == summary.frames_in - summary.frames_out
    assert assert_valid_outputs(tmp_path / "a.mp4", tmp_path / "f.jsonl") == summary.frames_out


def test_the_library_refuses_an_output_that_is_the_input(small_clip, tmp_path):
    from streamocr.errors import SinkError
    from streamocr.pipeline import process_video

    source = tmp_path / "in.mp4"
    source.write_bytes(small_clip.read_bytes())
    with pytest.raises(SinkError, match="input video"):
        process_video(str(source), out=str(source))
    assert source.read_bytes() == small_clip.read_bytes()
