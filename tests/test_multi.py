"""Several streams in one process: one shared model, per-stream state and outputs, failures
kept to their stream, folders of files with resumable runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import av
import pytest
from helpers import FakeRecognizer, needs_model, records_without_latency

from streamocr import sources
from streamocr.config import Config, PipelineSettings
from streamocr.errors import InputError, SourceError
from streamocr.pipeline.jobs import (
    expand_sources,
    is_complete,
    plan_jobs,
    read_sources_file,
    stream_name,
)
from streamocr.pipeline.multi import MultiStreamRunner
from streamocr.pipeline.video import process_video
from streamocr.reader import SudokuReader
from streamocr.sinks import pick_encoder
from streamocr.sources import VideoSource
from streamocr.synth.clips import build_clip

REPO = Path(__file__).resolve().parent.parent


class FailingReplay(VideoSource):
    """The frames of a file, as a camera that is unplugged after `fail_after` frames, once
    `written` (a JSON-lines output) shows that some frames went all the way through."""

    def __init__(self, path: str, fail_after: int, written: Path) -> None:
        super().__init__()
        self._file = sources.PyAVSource(path)
        self.info = replace(self._file.info, kind="camera", frame_count=None)
        self.fail_after = fail_after
        self.written = written

    def frames(self):
        for frame in self._file.frames():
            if self._stop.is_set():
                break
            if frame.index >= self.fail_after:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not self._stop.is_set():
                    if self.written.is_file() and len(self.written.read_text().splitlines()) > 2:
                        break
                    time.sleep(0.05)
                raise SourceError("camera unplugged: test")
            yield frame

    def close(self):
        self._file.close()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three short clips of different pages and camera paths."""
    folder = tmp_path_factory.mktemp("clips")
    return [
        build_clip(folder / f"clip{seed}.mp4", frames=32, size=(320, 240), seed=seed)
        for seed in (1, 2, 3)
    ]


def _frames_in_video(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@needs_model
def test_streams_read_as_they_do_alone(clips, tmp_path):
    config = Config()
    reader = SudokuReader.from_config(config)
    alone = {}
    for clip in clips:
        records: list[dict] = []
        process_video(str(clip.path), config=config, reader=reader, records=records)
        alone[clip.path.stem] = [{k: v for k, v in r.items() if k != "latency_ms"} for r in records]
    jobs = plan_jobs([str(c.path) for c in clips], tmp_path)
    summary = MultiStreamRunner(jobs, reader, config.pipeline, config.stabilize).run()
    assert summary.exit_code == 0 and not summary.failed
    assert summary.frames_out == sum(c.frames for c in clips)
    for job in jobs:
        assert records_without_latency(job.jsonl_path) == alone[job.name]
        assert _frames_in_video(job.video_path) == len(alone[job.name])
        assert is_complete(job)
        # Several encoders at once: each holds fewer frames (x264 writes its options in the
        # stream).
        if pick_encoder() == "libx264":
            assert b"rc_lookahead=5" in Path(job.video_path).read_bytes()
    assert any(r["digits"] for rs in alone.values() for r in rs)  # the clips were read


def test_one_model_call_serves_several_streams(clips, tmp_path, monkeypatch):
    import streamocr.pipeline.multi as multi

    streams_per_call: list[int] = []
    recognize_frames = multi.recognize_frames

    def counting(recognizer, batches):
        streams_per_call.append(len({id(stream) for stream, _ in batches}))
        return recognize_frames(recognizer, batches)

    monkeypatch.setattr(multi, "recognize_frames", counting)
    model = FakeRecognizer(delay_s=0.5)  # slow: every stream's frames pile up before it
    jobs = plan_jobs([str(c.path) for c in clips], tmp_path, video=False)
    settings = PipelineSettings(batch_frames=4)
    summary = MultiStreamRunner(jobs, SudokuReader(recognizer=model), settings).run()
    assert summary.frames_out == sum(c.frames for c in clips)
    # One call took the cells of several streams, in one model call.
    assert max(streams_per_call) > 1
    assert len(model.sizes) - 1 <= len(streams_per_call)  # one model call each at most


def _corrupt_file(folder: Path) -> str:
    path = folder / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(20000))
    return str(path)


def test_one_stream_failing_does_not_stop_the_others(clips, tmp_path, monkeypatch):
    unplugged = str(clips[1].path.with_name("camera.mp4"))
    Path(unplugged).write_bytes(clips[1].path.read_bytes())
    real_open = sources.open_source

    def open_source(spec, **kwargs):
        if spec == unplugged:
            return FailingReplay(spec, 20, tmp_path / "out" / "camera.jsonl")
        return real_open(spec, **kwargs)

    monkeypatch.setattr(sources, "open_source", open_source)
    specs = [str(clips[0].path), unplugged, _corrupt_file(tmp_path), str(clips[2].path)]
    jobs = plan_jobs(specs, tmp_path / "out")
    (tmp_path / "out").mkdir()
    runner = MultiStreamRunner(jobs, SudokuReader(recognizer=FakeRecognizer()), max_open=2)
    summary = runner.run()
    outcomes = {o.name: o for o in summary.streams}
    assert [o.name for o in summary.streams] == ["clip1", "camera", "corrupt", "clip3"]
    for good, clip in (("clip1", clips[0]), ("clip3", clips[2])):
        assert outcomes[good].error is None
        assert outcomes[good].summary.frames_out == clip.frames
        assert len(records_without_latency(tmp_path / "out" / f"{good}.jsonl")) == clip.frames
    camera = outcomes["camera"]
    assert "camera unplugged" in camera.error and camera.exit_code == SourceError.exit_code
    # Its outputs are closed and valid up to the last frame written.
    assert camera.summary.frames_in == 20  # it ran until it was unplugged
    written = camera.summary.frames_out
    assert written > 2
    assert len(records_without_latency(tmp_path / "out" / "camera.jsonl")) == written
    assert _frames_in_video(tmp_path / "out" / "camera.mp4") == written
    assert "cannot open video file" in outcomes["corrupt"].error
    assert not is_complete(jobs[1]) and not is_complete(jobs[2]) and is_complete(jobs[3])
    assert summary.exit_code == SourceError.exit_code
    lines = summary.lines()
    assert any(line.startswith("total: 4 streams (2 done, 2 failed, 0 skipped)") for line in lines)


@pytest.mark.parametrize(
    ("specs", "names"),
    [
        (["a/x.mp4", "b/y.mkv"], ["x", "y"]),
        (["a/x.mp4", "b/x.mp4", "c/x.mov"], ["x", "x-2", "x-3"]),  # same stem: numbered
        (["rtsp://cam.local:554/live/1", "0"], ["cam.local_554_live_1", "camera0"]),
    ],
)
def test_stream_names_are_unique_and_safe(specs, names, tmp_path):
    assert [job.name for job in plan_jobs(specs, tmp_path)] == names
    assert stream_name("/dev/video2") == "camera2"


def test_folders_globs_and_lists_expand_to_files(tmp_path):
    for name in ("b.mp4", "a.MKV", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert expand_sources([str(tmp_path)]) == [str(tmp_path / "a.MKV"), str(tmp_path / "b.mp4")]
    assert expand_sources([str(tmp_path / "*.mp4"), str(tmp_path / "b.mp4")]) == [
        str(tmp_path / "b.mp4")
    ]
    with pytest.raises(InputError, match="no files match"):
        expand_sources([str(tmp_path / "*.avi")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no video files"):
        expand_sources([str(empty)])
    listing = tmp_path / "sources.txt"
    listing.write_text("# cameras\nrtsp://a/1\n\n  b.mp4  \n")
    assert read_sources_file(listing) == ["rtsp://a/1", "b.mp4"]


# The command line, as a person runs it.


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "streamocr", "run", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


@needs_model
def test_folder_run_resumes_where_it_left(clips, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for clip in clips[:2]:
        (folder / clip.path.name).write_bytes(clip.path.read_bytes())
    out = tmp_path / "out"
    first = _cli(str(folder), "--out-dir", str(out), "--max-streams", "1")
    assert first.returncode == 0, first.stderr
    assert "total: 2 streams (2 done, 0 failed, 0 skipped)" in first.stderr
    written = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert {"clip1.jsonl", "clip1.mp4", "clip2.jsonl", "clip2.mp4"} <= set(written)
    # A rerun skips the files whose outputs are complete; a changed file is read again.
    os.utime(folder / "clip2.mp4", ns=(time.time_ns(), time.time_ns()))
    second = _cli(str(folder), "--out-dir", str(out))
    assert second.returncode == 0, second.stderr
    assert "clip1: skipped (outputs complete)" in second.stderr
    assert "total: 2 streams (1 done, 0 failed, 1 skipped)" in second.stderr
    assert (out / "clip1.jsonl").stat().st_mtime_ns == written["clip1.jsonl"]
    assert (out / "clip2.jsonl").stat().st_mtime_ns != written["clip2.jsonl"]


@needs_model
def test_cli_reports_each_stream_and_exits_with_the_failure(clips, tmp_path):
    result = _cli(str(clips[0].path), _corrupt_file(tmp_path), "--out-dir", str(tmp_path / "o"))
    assert result.returncode == SourceError.exit_code
    assert "Traceback" not in result.stderr
    assert "streamocr: clip1: frames in 32, out 32" in result.stderr
    assert "streamocr: corrupt: failed: cannot open video file" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a.mp4", "b.mp4"], "several sources need --out-dir"),
        (["a.mp4", "b.mp4", "--out", "x.mp4", "--out-dir", "o"], "instead of --out"),
        (["a.mp4", "--max-streams", "2"], "--max-streams needs several sources"),
        (["0", "1", "rtsp://a/b", "--out-dir", "o", "--max-streams", "2"], "3 live sources"),
    ],
)
def test_bad_many_source_arguments_give_one_line(args, message):
    result = _cli(*args)
    assert result.returncode == InputError.exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("streamocr: error: ") and message in lines[0]
