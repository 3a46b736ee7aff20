"""`streamocr read`: the JSON contract, the human output, bad inputs."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from streamocr.cli import main
from streamocr.synth.builders import PUZZLE, SOLUTION, synthetic_photo

KEYS = {
    "schema",
    "path",
    "found",
    "corners",
    "digits",
    "solution",
    "confidence",
    "error",
    "status",
    "doubtful",
}


@pytest.fixture
def photo_file(tmp_path):
    photo = synthetic_photo(seed=4)
    path = tmp_path / "puzzle.png"
    cv2.imwrite(str(path), photo.image)
    return path, photo


def _json_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_json_contract(photo_file, capsys):
    path, photo = photo_file
    assert main(["read", str(path), "--json"]) == 0
    (record,) = _json_lines(capsys)
    assert KEYS <= record.keys()
    assert record["found"] is True and record["error"] is None
    assert record["digits"] == PUZZLE
    assert record["solution"] == SOLUTION
    assert len(record["confidence"]) == 81 and all(0 <= c <= 1 for c in record["confidence"])
    assert np.abs(np.array(record["corners"]) - photo.corners).max() < 3


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_sideways_page_is_read_upright(tmp_path, capsys, quarter_turns):
    photo = synthetic_photo(seed=5)
    path = tmp_path / "turned.png"
    cv2.imwrite(str(path), np.ascontiguousarray(np.rot90(photo.image, quarter_turns)))
    assert main(["read", str(path), "--json"]) == 0
    (record,) = _json_lines(capsys)
    assert record["digits"] == PUZZLE


def test_bad_files_do_not_stop_the_others(photo_file, tmp_path, capsys):
    path, _ = photo_file
    missing = tmp_path / "missing.jpg"
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    assert main(["read", str(missing), str(path), str(text), "--json"]) == 1
    records = _json_lines(capsys)
    assert [r["path"] for r in records] == [str(missing), str(path), str(text)]
    assert "no such file" in records[0]["error"] and records[0]["found"] is False
    assert records[1]["found"] is True
    assert "not an image" in records[2]["error"]


def test_no_grid(tmp_path, capsys):
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), np.full((240, 320, 3), 200, np.uint8))
    assert main(["read", str(path), "--json"]) == 0
    (record,) = _json_lines(capsys)
    assert record["found"] is False and record["digits"] is None and record["corners"] is None


def test_human_output(photo_file, capsys):
    path, _ = photo_file
    assert main(["read", str(path)]) == 0
    out = capsys.readouterr().out
    assert "5 3 . | " not in out  # rows are grouped by spaces, not bars
    assert "53. .7. ..." in out and "solution:" in out and "534 678 912" in out


@pytest.mark.parametrize(
    "args, message, code",
    [
        (["read", "x.jpg", "--config", "missing.toml"], "config file not found", 3),
        (["read", "x.jpg", "--set", "recognition.model=absent.onnx"], "digit model not found", 4),
    ],
)
def test_setup_errors_are_one_line(args, message, code):
    proc = subprocess.run(
        [sys.executable, "-m", "streamocr", *args], capture_output=True, text=True
    )
    assert proc.returncode == code
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_an_unsure_reading_says_why_no_solution_is_given(capsys):
    from streamocr.cli import _print_human

    record = {
        "path": "page.jpg",
        "error": None,
        "found": True,
        "digits": PUZZLE,
        "solution": None,
        "status": "unsure",
        "doubtful": [25, 40],
    }
    _print_human(record)
    out = capsys.readouterr().out
    assert "no solution given: the reading is not sure enough" in out
    assert "r3c8, r5c5" in out
    assert SOLUTION not in out.replace(" ", "").replace("\n", "")
