"""`streamocr bench`: decode-only against pipeline rates of a file, measured in one run."""

from __future__ import annotations

import json
import re

import pytest

from streamocr.cli import main
from streamocr.synth.clips import build_clip


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "clip.mp4"
    build_clip(path, frames=24, size=(320, 240), seed=3)
    return path


def test_bench_reports_rates_ratios_and_stages_of_a_file(small_clip, capsys):
    assert main(["bench", str(small_clip), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 24
    for run in ("pipeline", "pipeline_out"):
        assert report[run]["frames_in"] == report[run]["frames_out"] == 24
        assert report[run]["dropped"] == 0
        assert set(report[run]["stage_ms"]) == {"decode", "detect", "cells+recognize", "write"}
        for p50, p95 in report[run]["stage_ms"].values():
            assert 0 <= p50 <= p95
        assert report[run]["latency_p50_ms"] <= report[run]["latency_p95_ms"]

    # The ratios are the run's own rates divided, not figures from elsewhere (each figure
    # is rounded: the rates to 0.1 fps, the ratios to 0.001, which on a loaded machine's
    # small ratio, 0.023, is more than 2% of it).
    def divided(a, b):
        return pytest.approx(a / b, rel=0.02, abs=0.0006)

    assert report["ratio"] == divided(report["pipeline"]["fps"], report["decode_fps"])
    assert report["ratio_out"] == divided(
        report["pipeline_out"]["fps"], report["decode_encode_fps"]
    )
    assert report["model_ms"]["81 cells"] > 0
    assert report["machine"]["cores_used"] >= 1


def test_bench_prints_a_human_report(small_clip, capsys):
    assert main(["bench", str(small_clip), "--no-out"]) == 0
    out = capsys.readouterr().out
    assert "x decode-only" in out and "stage ms per frame" in out
    assert "--out" not in out.split("stage ms")[0]  # the --out runs were skipped


def test_bench_on_a_missing_file_is_one_line_and_exit_5(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "none.mp4")]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("streamocr: error:")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench_streams") / "tiny.mp4"
    build_clip(path, frames=12, size=(320, 240), seed=4)
    return path


def test_bench_streams_prints_a_line_per_count(tiny_clip, capsys):
    assert main(["bench", str(tiny_clip), "--streams", "1", "2", "--no-out"]) == 0
    out = capsys.readouterr().out
    assert "JSON lines only" in out.splitlines()[0]
    rows = {}
    for line in out.splitlines():
        found = re.match(
            r"(\d+) streams?: ([\d.]+) fps aggregate = ([\d.]+) x the file alone ([\d.]+) fps; "
            r"model calls (\d+), ([\d.]+) ms and (\d+) cells a call",
            line,
        )
        if found:
            rows[int(found[1])] = [float(v) for v in found.groups()[1:]]
    assert sorted(rows) == [1, 2]
    for streams, (fps, ratio, alone, calls, ms, cells) in rows.items():
        assert fps > 0 and alone > 0 and ratio > 0
        # At most one call a frame (the shared stage batches what is waiting), each padded
        # to 16 cells at least (only inked cells go to the model, so a call of one frame
        # whose board is known holds fewer than 81).
        assert 1 <= calls <= 12 * streams and ms > 0 and cells >= 16
    assert "peak RSS per extra stream" in out


def test_bench_streams_json_gives_the_fields(tiny_clip, capsys):
    assert main(["bench", str(tiny_clip), "--streams", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outputs"] == "JSON lines + MP4" and report["frames"] == 12
    assert report["size"] == [320, 240]
    (row,) = report["streams"]
    assert row["streams"] == 2 and row["frames"] == 2 * 12 and row["single_frames"] == 12
    assert row["fps"] > 0 and row["single_fps"] > 0
    # The aggregate fps and the ratio are the run's own figures.
    assert row["fps"] == pytest.approx(row["frames"] / row["wall_s"], 0.02)
    assert row["ratio"] == pytest.approx(row["fps"] / row["single_fps"], 0.02)
    assert row["model_calls"] >= 1 and row["model_ms_per_call"] > 0
    assert row["model_calls"] <= row["frames"] and row["cells_per_call"] >= 16
    assert row["peak_rss_mb"] > 0
    assert report["rss_mb_per_extra_stream"] is None  # one count: nothing to compare
    assert report["providers"] and report["machine"]["cores_used"] >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--streams", "0"], "--streams takes counts of 1 or more, got 0"),
        (["--streams", "2", "x"], "--streams takes whole numbers, got 'x'"),
        (["rtsp://127.0.0.1:9/live", "--streams", "2"], "need a video file"),
    ],
)
def test_bench_streams_bad_values_are_one_line(args, message, capsys):
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("streamocr: error:") and message in err[0]


def test_bench_streams_on_a_missing_file_is_one_line_and_exit_5(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "none.mp4"), "--streams", "1"]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("streamocr: error:")
