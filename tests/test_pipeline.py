"""The video pipeline: policies, counts, batching, shutdown, and the `run` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from helpers import FakeRecognizer, needs_model
from rtsp_server import free_port

from streamocr.config import PipelineSettings, StabilizeSettings
from streamocr.errors import SourceError
from streamocr.pipeline import VideoPipeline
from streamocr.pipeline import video as video_pipeline
from streamocr.reader import SudokuReader
from streamocr.sinks import JsonLinesSink, VideoFileSink
from streamocr.sources import SourceInfo, VideoSource, open_source
from streamocr.synth.builders import PUZZLE, render_grid
from streamocr.synth.clips import build_clip, build_kind_clip, h264_writer

REPO = Path(__file__).resolve().parent.parent

NO_TRACKING = StabilizeSettings(enabled=False)


class SlowReader(SudokuReader):
    """A reader whose processing stage takes at least `delay_s` per frame."""

    def __init__(self, delay_s: float, recognizer=None) -> None:
        super().__init__(recognizer=recognizer or FakeRecognizer())
        self.delay_s = delay_s

    def extract(self, image):
        time.sleep(self.delay_s)
        return super().extract(image)


class LiveReplay(VideoSource):
    """The frames of a file delivered as a live source would: unthrottled, may be dropped."""

    def __init__(self, path: Path, fail_after: int | None = None) -> None:
        super().__init__()
        self._file = open_source(str(path))
        self.info = replace(self._file.info, kind="stream", frame_count=None)
        self.fail_after = fail_after

    def frames(self):
        for frame in self._file.frames():
            if self._stop.is_set():
                break
            if self.fail_after is not None and frame.index >= self.fail_after:
                raise SourceError("stream lost: test")
            yield frame

    def close(self):
        self._file.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 48-frame clip; the grid leaves the view in the middle."""
    return build_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=48, size=(320, 240))


def _run(source, reader, tmp_path, **settings):
    info: SourceInfo = source.info
    video = VideoFileSink(tmp_path / "a.mp4", info.width, info.height, info.fps, info.time_base)
    jsonl = JsonLinesSink(tmp_path / "f.jsonl")
    # Each frame searched and read on its own: the slow stage is slow on every frame.
    pipeline = VideoPipeline(
        source, reader, PipelineSettings(**settings), video, jsonl, stabilize=NO_TRACKING
    )
    return pipeline, video, jsonl


def _read_outputs(tmp_path):
    with av.open(str(tmp_path / "a.mp4")) as container:
        times = [float(f.time) for f in container.decode(video=0)]
    records = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    return times, records


def test_file_under_a_slow_stage_loses_no_frame(clip, tmp_path):
    source = open_source(str(clip.path))
    pipeline, _, _ = _run(source, SlowReader(0.03), tmp_path, queue_size=2)
    summary = pipeline.run()
    assert pipeline.policy == "wait"
    assert (summary.frames_in, summary.frames_out, summary.dropped) == (48, 48, 0)
    times, records = _read_outputs(tmp_path)
    assert [r["frame"] for r in records] == list(range(48))
    assert len(times) == 48
    # Same timing as the input: frame i at i / fps.
    assert sorted(times) == pytest.approx([i / clip.fps for i in range(48)], abs=1e-3)
    assert [r["pts"] for r in records] == pytest.approx(sorted(times), abs=1e-3)
    for record, in_view in zip(records, clip.in_view, strict=True):
        if in_view:
            assert record["found"] and len(record["corners"]) == 4
            assert len(record["digits"]) == 81
    assert set(records[0]) == {
        "schema",
        "track",
        "frame",
        "pts",
        "found",
        "corners",
        "digits",
        "solution",
        "latency_ms",
    }


@pytest.mark.parametrize(
    ("live", "policy", "drops"),
    [
        (True, "auto", True),  # live sources keep the newest frames
        (True, "wait", False),  # ... unless told to wait
        (False, "drop", True),  # a file can be told to drop
    ],
)
def test_policy_under_a_slow_stage(clip, tmp_path, live, policy, drops):
    source = LiveReplay(clip.path) if live else open_source(str(clip.path))
    pipeline, _, _ = _run(source, SlowReader(0.03), tmp_path, policy=policy)
    summary = pipeline.run()
    assert summary.frames_in == 48
    assert summary.frames_in == summary.frames_out + summary.dropped
    assert (summary.dropped > 0) == drops
    times, records = _read_outputs(tmp_path)
    assert len(times) == len(records) == summary.frames_out
    indices = [r["frame"] for r in records]
    assert indices == sorted(indices)
    if drops:
        assert indices[-1] == 47  # the newest frame is never the one dropped


class GatedRecognizer(FakeRecognizer):
    """A model whose calls wait until the processing stage has cut `ahead` more frames than
    the calls so far can have recognised (`per_call` frames each): work piles up before it
    however slow the machine is."""

    def __init__(self, reader_extracts, ahead: int, per_call: int) -> None:
        super().__init__()
        self.extracts = reader_extracts
        self.ahead = ahead
        self.per_call = per_call
        self.recognised_frames = 0

    def recognize(self, cells):
        deadline = time.monotonic() + 20
        if self.shapes:  # not the warm-up call
            while self.extracts() < min(48, self.recognised_frames + self.ahead):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            self.recognised_frames += self.per_call
        return super().recognize(cells)


class CountingReader(SudokuReader):
    """A reader that counts the frames its processing stage cut."""

    extracted = 0

    def extract(self, image):
        batch = super().extract(image)
        self.extracted += 1
        return batch


def test_cells_of_several_frames_share_one_padded_model_call(clip, tmp_path):
    reader = CountingReader()
    recognizer = GatedRecognizer(lambda: reader.extracted, ahead=8, per_call=4)
    reader.recognizer = recognizer
    source = open_source(str(clip.path))
    pipeline, _, _ = _run(source, reader, tmp_path, batch_frames=4)
    summary = pipeline.run()
    assert summary.frames_out == 48
    # One call warms the model up before the first frame; the frames share the rest.
    assert summary.model_calls == len(recognizer.shapes) - 1 <= summary.frames_out // 2
    # The inked cells only, padded to powers of two: few shapes for the session.
    sizes = recognizer.sizes[1:]
    assert all(size >= 16 and size & (size - 1) == 0 for size in sizes), sizes
    assert max(sizes) <= 4 * 4 * 81


def test_stop_finishes_frames_in_flight(clip, tmp_path):
    source = open_source(str(clip.path))
    pipeline, _, _ = _run(source, SlowReader(0.03), tmp_path, queue_size=2)
    threading.Timer(0.4, pipeline.stop, args=("test",)).start()
    summary = pipeline.run()
    assert summary.stopped_by == "test"
    assert 0 < summary.frames_out == summary.frames_in < 48
    times, records = _read_outputs(tmp_path)
    assert len(times) == len(records) == summary.frames_out


def test_source_failure_is_raised_after_outputs_are_closed(clip, tmp_path):
    source = LiveReplay(clip.path, fail_after=10)
    pipeline, video, jsonl = _run(source, SudokuReader(recognizer=FakeRecognizer()), tmp_path)
    with pytest.raises(SourceError, match="stream lost"):
        pipeline.run()
    times, records = _read_outputs(tmp_path)  # the MP4 is finalised and readable
    assert len(times) == len(records) == pipeline.frames_out > 0
    # The frames read before the failure still reach the outputs (a live source may
    # drop some of them on the way, never the newest).
    assert records[-1]["frame"] == 9


def test_a_file_that_fails_midway_keeps_every_frame_before_the_failure(clip, tmp_path):
    class FailingFile(LiveReplay):
        def __init__(self, path: Path) -> None:
            super().__init__(path, fail_after=20)
            self.info = self._file.info  # a file: the wait policy, nothing dropped

    pipeline, _, _ = _run(FailingFile(clip.path), SlowReader(0.02), tmp_path, queue_size=2)
    with pytest.raises(SourceError, match="stream lost") as failure:
        pipeline.run()
    times, records = _read_outputs(tmp_path)
    assert [r["frame"] for r in records] == list(range(20))
    assert len(times) == 20
    assert failure.value.summary is not None and failure.value.summary.frames_out == 20


# The command line, as a person runs it (needs the digit model).


def _cli(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "streamocr", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        **kwargs,
    )


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """Long enough to be interrupted mid-run."""
    return build_clip(tmp_path_factory.mktemp("long") / "long.mp4", frames=240, size=(320, 240))


@needs_model
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_leaves_valid_outputs(long_clip, tmp_path, signum, code):
    out, jsonl = tmp_path / "a.mp4", tmp_path / "f.jsonl"
    process = _cli(str(long_clip.path), "--out", str(out), "--jsonl", str(jsonl), "--no-display")
    deadline = time.monotonic() + 60
    partial = jsonl.with_name(f".{jsonl.name}.{process.pid}.part")  # renamed when closed
    while time.monotonic() < deadline and process.poll() is None:
        if partial.is_file() and len(partial.read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    lines = jsonl.read_text().splitlines()
    assert all(line.endswith("}") for line in lines)
    records = [json.loads(line) for line in lines]
    assert [r["frame"] for r in records] == list(range(len(records)))
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == len(records)
    assert len(records) < long_clip.frames


def _corrupt_file(tmp_path):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(20000))
    return str(path)


@needs_model
@pytest.mark.parametrize(
    ("make_source", "message"),
    [
        (lambda tmp: str(tmp / "missing.mp4"), "video file not found"),
        (_corrupt_file, "cannot open video file"),
        (lambda tmp: f"rtsp://127.0.0.1:{free_port()}/live", "cannot open stream"),
    ],
)
def test_bad_source_gives_one_line_and_nonzero_exit(tmp_path, make_source, message):
    process = _cli(make_source(tmp_path), "--out", str(tmp_path / "a.mp4"), "--no-display")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == SourceError.exit_code
    assert stderr.strip().splitlines() == [stderr.strip()]
    assert stderr.startswith("streamocr: error: ") and message in stderr


def test_missing_model_gives_one_line(clip, tmp_path):
    process = _cli(
        str(clip.path), "--no-display", "--set", f"recognition.model='{tmp_path}/x.onnx'"
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert stderr.startswith("streamocr: error: ") and len(stderr.strip().splitlines()) == 1


@needs_model
@pytest.mark.accuracy
def test_run_reads_the_clip(tmp_path):
    # 480x360: at 320x240 a cell is ~18 px and the reading is far less reliable.
    clip = build_clip(tmp_path / "clip.mp4", frames=48, size=(480, 360), seed=2)
    out, jsonl = tmp_path / "a.mp4", tmp_path / "f.jsonl"
    process = _cli(str(clip.path), "--out", str(out), "--jsonl", str(jsonl), "--no-display")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "frames in 48, out 48, dropped 0" in stderr
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    in_view = [r for r, v in zip(records, clip.in_view, strict=True) if v]
    right = sum(r["digits"] == clip.digits for r in in_view)
    assert right >= 0.8 * len(in_view), f"{right}/{len(in_view)} in-view frames read right"


@needs_model
@pytest.mark.accuracy
def test_two_puzzles_in_view_are_read_separately(tmp_path):
    # Two different puzzles side by side, the left one larger: each gets its own board, the
    # JSONL line lists both under "grids", and its top-level fields describe the larger.
    other = PUZZLE[::-1]  # the puzzle turned half a turn: another valid puzzle

    def on_paper(grid):
        return cv2.copyMakeBorder(grid, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=(250,) * 3)

    left = on_paper(render_grid(PUZZLE, cell_px=30, seed=1))
    right = on_paper(render_grid(other, cell_px=24, seed=2))
    scene = np.full((360, 640, 3), 120, np.uint8)
    scene[35 : 35 + left.shape[0], 20 : 20 + left.shape[1]] = left
    scene[70 : 70 + right.shape[0], 360 : 360 + right.shape[1]] = right
    rng = np.random.default_rng(0)
    path = tmp_path / "two.mp4"
    with h264_writer(path, 30, (640, 360), 23) as write:
        for _ in range(20):
            write(np.clip(scene + rng.normal(0, 2, scene.shape), 0, 255).astype(np.uint8))
    jsonl = tmp_path / "f.jsonl"
    process = _cli(str(path), "--jsonl", str(jsonl), "--no-display")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    last = records[-1]
    assert sorted(g["digits"] for g in last["grids"]) == sorted([PUZZLE, other])
    assert last["digits"] == PUZZLE and last["corners"][0][0] < 100  # the larger, on the left
    both = sum(len(r.get("grids") or []) == 2 for r in records)
    assert both >= 15, f"both puzzles shown in only {both} of 20 frames"


def test_a_live_source_is_opened_only_after_the_reader_is_warm(monkeypatch):
    # A live source sends from the moment it is opened: loading the kernels and the model
    # after that made the first second of the stream arrive as a backlog, dropped.
    import streamocr.sources
    from streamocr.pipeline.video import RunOutputs, open_stream

    warmed: list[str] = []
    reader = SudokuReader(recognizer=FakeRecognizer())
    monkeypatch.setattr(reader, "warm_up", lambda: warmed.append("warm"))

    def opening(spec, **options):
        warmed.append("open")
        raise SourceError(f"cannot open {spec}")

    monkeypatch.setattr(streamocr.sources, "open_source", opening)
    with pytest.raises(SourceError):
        open_stream("rtsp://127.0.0.1:9/live", reader, PipelineSettings(), RunOutputs())
    assert warmed == ["warm", "open"]
    # A file is opened first: a missing one is said at once, with no loading before it.
    warmed.clear()
    with pytest.raises(SourceError):
        open_stream("missing.mp4", reader, PipelineSettings(), RunOutputs())
    assert warmed == ["open"]


@needs_model
def test_a_files_outputs_do_not_depend_on_which_stage_is_slow(tmp_path, monkeypatch):
    # The recognition stage batches frames and skips the re-read of a confirmed board from
    # the stabiliser's state, and the full search starts ahead of the tracker on its own
    # thread where the tracker is expected to want it: a file's records must be the same
    # whether the tracker runs ahead of the model (a slow model), the model waits on the
    # tracker, or the tracker waits on the searches started ahead.
    from streamocr.stream import StreamReader

    clip = build_kind_clip(tmp_path / "clip.mp4", "dim", frames=48, seed=1311)
    reader = SudokuReader()
    runs = []
    searched_on = []
    for slow in ("locate", "observe", "search"):
        original = getattr(StreamReader, slow)

        def delayed(self, *args, _original=original, _slow=slow, **kwargs):
            if _slow == "search":
                searched_on.append(threading.current_thread().name)
            time.sleep(0.02)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(StreamReader, slow, delayed)
        jsonl = JsonLinesSink(tmp_path / f"{slow}.jsonl")
        VideoPipeline(open_source(str(clip.path)), reader, jsonl=jsonl).run()
        monkeypatch.setattr(StreamReader, slow, original)
        records = [json.loads(line) for line in jsonl.path.read_text().splitlines()]
        for record in records:
            record.pop("latency_ms")
        runs.append(records)
    assert len(runs[0]) == 48
    assert sum(1 for r in runs[0] if r["digits"]) > 20  # read, not just searched
    # And the same as with every search in line.
    monkeypatch.setattr(video_pipeline, "SEARCH_AHEAD", 0)
    jsonl = JsonLinesSink(tmp_path / "in_line.jsonl")
    VideoPipeline(open_source(str(clip.path)), reader, jsonl=jsonl).run()
    in_line = [json.loads(line) for line in jsonl.path.read_text().splitlines()]
    for record in in_line:
        record.pop("latency_ms")
    assert runs[0] == runs[1] == runs[2] == in_line
    # Both ways were taken: searches started ahead, and searches in line.
    assert any(name.startswith("streamocr-search") for name in searched_on)
    assert any(name == "streamocr-process" for name in searched_on)


def test_the_search_plan_foretells_which_frame_the_tracker_searches_next(tmp_path):
    # A file's searches start ahead of the tracker where `search_plan` expects them: as
    # the tracker stands after a frame, the plan must say whether the next frame is
    # searched, through acquisition, the grid at the frame's edge, out of view and back.
    from streamocr.stream import StreamReader

    clip = build_kind_clip(tmp_path / "clip.mp4", "printed", frames=150, size=(640, 360), seed=7)
    stream = StreamReader.from_config()
    searched: list[int] = []
    original = stream.search
    current = [0]

    def search(gray):
        searched.append(current[0])
        return original(gray)

    stream.search = search  # type: ignore[method-assign]
    foretold = []
    with av.open(str(clip.path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            current[0] = index
            stream.update(frame.to_ndarray(format="bgr24"))
            plan = stream.search_plan(index)
            foretold.append(index + 1 if plan.wants(index + 1) else None)
    wanted = {i for i in foretold if i is not None and i < 150}
    assert wanted == set(searched) - {0}
    # All the cadences were gone through: every frame, every third, once a second.
    gaps = set(np.diff(searched).tolist())
    assert {1, 3} <= gaps and len(searched) < 100


def test_a_live_source_rereads_and_searches_off_the_frames_path_a_file_in_line(clip):
    # Live: the full search and a confirmed board's periodic re-read run on their own
    # threads (the frame's latency excludes them); a file keeps both in line, so its
    # outputs do not depend on timing. `reread_in_background = false` keeps the re-read in
    # line on a live source too.
    reader = SudokuReader(recognizer=FakeRecognizer())
    live = VideoPipeline(LiveReplay(clip.path), reader)
    file = VideoPipeline(open_source(str(clip.path)), reader)
    inline = VideoPipeline(
        LiveReplay(clip.path), reader, PipelineSettings(reread_in_background=False)
    )
    try:
        assert live.policy == "drop" and file.policy == "wait"
        assert live.stream._rereader is not None and live.stream._background is not None
        assert file.stream._rereader is None and file.stream._background is None
        assert inline.stream._rereader is None and inline.stream._background is not None
    finally:
        for pipeline in (live, file, inline):
            pipeline.stream.close()
            pipeline.source.close()
    assert live.stream._rereader is None
