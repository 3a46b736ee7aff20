"""Streams on a Ray cluster: the same records as in one process (needs streamocr[cluster]).

One local cluster on 127.0.0.1 serves the whole session; `make test` (and so CI) installs
the extra, so these run there.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import records_without_latency

from streamocr.config import Config
from streamocr.errors import ClusterError, SourceError
from streamocr.pipeline.jobs import is_complete, plan_jobs
from streamocr.pipeline.multi import MultiStreamRunner
from streamocr.reader import SudokuReader
from streamocr.recognize import DEFAULT_MODEL
from streamocr.synth.clips import build_clip

REPO = Path(__file__).resolve().parent.parent
HAVE_RAY = importlib.util.find_spec("ray") is not None

needs_ray = pytest.mark.skipif(
    not HAVE_RAY, reason="Ray is not installed (pip install 'streamocr[cluster]')"
)
pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason=f"no model at {DEFAULT_MODEL}"),
]


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster on loopback, started once for the session."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # read when Ray is imported
    import ray

    from streamocr.cluster import connect

    started = connect("local", num_cpus=4)
    try:
        addresses = {node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]}
        assert addresses == {"127.0.0.1"}, addresses  # tests stay on loopback
        yield ray
    finally:
        if started:
            ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rayclips")
    return [
        build_clip(folder / f"clip{seed}.mp4", frames=24, size=(320, 240), seed=seed)
        for seed in (4, 5, 6)
    ]


@needs_ray
def test_cluster_writes_what_one_process_writes(ray_cluster, clips, tmp_path):
    from streamocr.cluster import run_on_cluster

    config = Config()
    specs = [str(c.path) for c in clips] + [str(tmp_path / "missing.mp4")]
    local_jobs = plan_jobs(specs, tmp_path / "local", video=False)
    (tmp_path / "local").mkdir()
    reader = SudokuReader.from_config(config)
    local = MultiStreamRunner(local_jobs, reader, config.pipeline, config.stabilize).run()
    cluster_jobs = plan_jobs(specs, tmp_path / "cluster")
    (tmp_path / "cluster").mkdir()
    summary = run_on_cluster(cluster_jobs, config, "local", max_streams=2)
    assert summary.frames_out == local.frames_out == sum(c.frames for c in clips)
    assert summary.model_calls > 0
    for local_job, cluster_job in zip(local_jobs[:3], cluster_jobs[:3], strict=True):
        assert records_without_latency(cluster_job.jsonl_path) == records_without_latency(
            local_job.jsonl_path
        )
        assert Path(cluster_job.video_path).stat().st_size > 0
        assert is_complete(cluster_job)
    # A missing file fails on its own, as in one process.
    missing = summary.streams[-1]
    assert missing.name == "missing" and "not found" in missing.error
    assert summary.exit_code == SourceError.exit_code == local.exit_code


@needs_ray
def test_cluster_run_skips_complete_outputs(ray_cluster, clips, tmp_path, capsys):
    from streamocr.cli import main

    # In this process, so the command joins the session's cluster instead of starting one.
    args = ["run", str(clips[0].path), "--out-dir", str(tmp_path), "--no-video"]
    assert main([*args, "--cluster", "local"]) == 0
    first = capsys.readouterr().err
    assert "total: 1 streams (1 done, 0 failed, 0 skipped)" in first
    assert main([*args, "--cluster", "auto"]) == 0
    assert "clip4: skipped (outputs complete)" in capsys.readouterr().err
    assert ray_cluster.is_initialized()  # a cluster the run did not start is left running


@pytest.mark.skipif(HAVE_RAY, reason="checks the message shown where Ray is not installed")
def test_cluster_without_ray_gives_one_line(clips, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "streamocr", "run", str(clips[0].path)]
        + ["--out-dir", str(tmp_path), "--cluster", "local"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == ClusterError.exit_code
    assert result.stderr.strip() == (
        "streamocr: error: --cluster needs Ray: pip install 'streamocr[cluster]'"
    )


def test_default_run_never_imports_ray(tmp_path):
    code = (
        "import sys\n"
        "from streamocr.cli import main\n"
        "main(['run', '--no-display', '--set', 'pipeline.max_frames=3'])\n"
        "assert 'ray' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr


@needs_ray
def test_unreachable_head_gives_one_line_at_once(tmp_path):
    from rtsp_server import free_port

    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "streamocr", "run", str(tmp_path / "a.mp4")]
        + ["--out-dir", str(tmp_path), "--cluster", f"127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == ClusterError.exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Ray head at 127.0.0.1:" in lines[0]
    assert time.monotonic() - start < 60  # Ray alone would retry for minutes
