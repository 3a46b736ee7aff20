"""Packaging: what the wheel holds, and a wheel installed away from the checkout at work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import av
import cv2
import pytest

from streamocr import resources
from streamocr.resources import DEFAULT_CONFIG, DEFAULT_MODEL
from streamocr.synth.builders import PUZZLE, SOLUTION, synthetic_photo
from streamocr.synth.clips import build_clip

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_package_of_the_tree_is_listed():
    # packages.find cannot be used beside the package-dir mapping of models/ and configs/,
    # so a new subpackage must be added to pyproject.toml by hand, or the wheel lacks it.
    tree = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "streamocr").rglob("__init__.py")
    }
    mapped = set(SETUPTOOLS["package-dir"])
    assert set(SETUPTOOLS["packages"]) == tree | mapped


def test_the_data_packages_are_the_top_level_folders():
    assert SETUPTOOLS["package-dir"] == {
        "streamocr.models": "models",
        "streamocr.configs": "configs",
    }
    # In this checkout's (editable) install the package data are the checkout's own files.
    assert DEFAULT_MODEL.resolve() == REPO / "models" / "digits.onnx"
    assert DEFAULT_CONFIG.resolve() == REPO / "configs" / "default.toml"


@pytest.mark.parametrize(
    "package, name, expected",
    [
        ("streamocr.models", "digits.onnx", REPO / "models" / "digits.onnx"),
        ("streamocr.configs", "default.toml", REPO / "configs" / "default.toml"),
        ("streamocr.samples", "sudoku_sample.mp4", None),  # not a mapped folder: the error stands
    ],
)
def test_a_stale_editable_install_still_finds_the_checkout_folders(
    monkeypatch, package, name, expected
):
    # An editable install made before models/ and configs/ became packages has no finder
    # entry for them: importlib.resources cannot import streamocr.models there.
    def no_such_package(anchor: str):
        raise ModuleNotFoundError(f"No module named {anchor!r}")

    monkeypatch.setattr(resources, "files", no_such_package)
    if expected is None:
        with pytest.raises(ModuleNotFoundError):
            resources.package_file(package, name)
    else:
        assert resources.package_file(package, name) == expected


def _copy_sources(dest: Path) -> Path:
    """The checkout's files, without build leftovers (a stale build/lib would go in the wheel)."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "out", "*.egg-info", "__pycache__", ".*_cache"
    )
    return Path(shutil.copytree(REPO, dest, ignore=ignore))


def _site_packages(venv: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


def _run(args: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.wheel
def test_the_wheel_installed_elsewhere_reads_a_photo_and_a_clip(tmp_path):
    # Build the wheel from a copy of the sources, install it into a fresh virtual environment
    # whose only link to the checkout's .venv is a .pth line for the heavy dependencies
    # (numpy, OpenCV, Numba, ONNX Runtime, PyAV: not part of the wheel, and slow to install),
    # then run the installed command from a folder outside the checkout.
    sources = _copy_sources(tmp_path / "src")
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, sources],
        tmp_path,
        os.environ.copy(),
    )
    (wheel,) = wheels.glob("streamocr-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {
        "streamocr/models/digits.onnx",
        "streamocr/configs/default.toml",
        "streamocr/py.typed",
        "streamocr/samples/sudoku_sample.mp4",
    } <= names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, os.environ.copy())
    deps = Path(sysconfig.get_paths()["purelib"])
    (_site_packages(venv) / "checkout_dependencies.pth").write_text(f"{deps}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["STREAMOCR_NO_GPU"] = "1"
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python"]
    _run([*pip, "install", "--no-deps", "--no-index", "-q", wheel], tmp_path, env)
    shutil.rmtree(sources)  # nothing may still come from the copy

    work = tmp_path / "work"
    work.mkdir()
    where = _run(
        [
            venv / "bin" / "python",
            "-c",
            "import streamocr, streamocr.resources as r, streamocr.samples as s; "
            "print(streamocr.__file__); print(r.DEFAULT_MODEL); print(r.DEFAULT_CONFIG); "
            "print(s.sample_clip())",
        ],
        work,
        env,
    ).stdout.split()
    for path in where:
        assert Path(path).is_file() and Path(path).is_relative_to(_site_packages(venv)), path
    assert not Path(where[0]).is_relative_to(REPO)

    photo = synthetic_photo(seed=3)
    cv2.imwrite(str(work / "page.png"), photo.image)
    read = _run(
        [venv / "bin" / "streamocr", "read", "page.png", "--json", "--config", where[2]], work, env
    )
    record = json.loads(read.stdout)
    assert record["found"] and record["digits"] == photo.digits
    assert record["status"] == "solved" and record["solution"] == SOLUTION

    frames = 24
    build_clip(work / "clip.mp4", frames=frames, size=(480, 360), seed=2)
    run = "run clip.mp4 --out annotated.mp4 --jsonl frames.jsonl --no-display".split()
    _run([venv / "bin" / "streamocr", *run], work, env)
    lines = [json.loads(line) for line in (work / "frames.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(frames))
    shown = [line["digits"] for line in lines if line["digits"] is not None]
    assert len(shown) >= frames // 2 and set(shown) == {PUZZLE}
    with av.open(str(work / "annotated.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == frames
