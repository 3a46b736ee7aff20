"""`streamocr bench`: decode-only against pipeline rates of a file, measured in one run."""

from __future__ import annotations

import json

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
        assert set(report[run]["stage_ms"]) == {"decode", "detect+cells", "recognize", "write"}
        for p50, p95 in report[run]["stage_ms"].values():
            assert 0 <= p50 <= p95
        assert report[run]["latency_p50_ms"] <= report[run]["latency_p95_ms"]
    # The ratios are the run's own rates divided, not figures from elsewhere.
    assert report["ratio"] == pytest.approx(report["pipeline"]["fps"] / report["decode_fps"], 0.02)
    assert report["ratio_out"] == pytest.approx(
        report["pipeline_out"]["fps"] / report["decode_encode_fps"], 0.02
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
