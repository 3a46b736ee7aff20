"""eval-video: scoring records against per-frame truth, and runs on generated clips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import needs_model

from streamocr.evalvideo import VideoTruth, score_video
from streamocr.synth.builders import PUZZLE
from streamocr.synth.clips import build_kind_clip, score_clip

REPO = Path(__file__).resolve().parent.parent
BOX = [[10, 10], [110, 10], [110, 110], [10, 110]]
WRONG = "1" + PUZZLE[1:]


def _truth(in_view):
    frames = [
        {"frame": i, "corners": BOX if v is not None else None, "in_view": bool(v)}
        for i, v in enumerate(in_view)
    ]
    return VideoTruth.from_json({"size": [320, 240], "digits": PUZZLE, "frames": frames})


def _records(shown, dx=()):
    out = []
    for i, digits in enumerate(shown):
        found = digits != "-"
        shift = dx[i] if dx else 0
        corners = [[x + shift, y] for x, y in BOX] if found else None
        out.append({"frame": i, "found": found, "corners": corners, "digits": digits or None})
    return out


@pytest.mark.parametrize(
    ("shown", "right", "acquisition", "flicker"),
    [
        ([None, None, PUZZLE, PUZZLE], 2, (2,), 0),
        ([None, PUZZLE, WRONG, PUZZLE], 2, (1,), 2),  # two changes while in view
        ([None, None, None, None], 0, (None,), 0),  # never acquired
        ([PUZZLE, PUZZLE, None, PUZZLE], 3, (0,), 1),  # dropped once: a change too
        ([PUZZLE, None, None, PUZZLE], 2, (0,), 1),  # vanished and came back: once
        ([None, PUZZLE, None, WRONG], 1, (1,), 1),  # vanished, another reading came: once
        # Vanished for good before the puzzle left the view: lost frames, not flicker.
        ([PUZZLE, PUZZLE, None, None], 2, (0,), 0),
    ],
)
def test_score_table(shown, right, acquisition, flicker):
    score = score_video(_records(shown), _truth([True] * 4))
    assert (score.right_frames, score.acquisition_frames, score.flicker) == (
        right,
        acquisition,
        flicker,
    )


def test_wrong_readings_shown_are_counted():
    # A wrong reading in view; a right one over a grid partly in view; one where none is.
    truth = _truth([True, True, False, None])
    score = score_video(_records([PUZZLE, WRONG, PUZZLE, PUZZLE]), truth)
    assert score.wrong_frames == 2  # WRONG in view, and PUZZLE where no puzzle is


def test_a_reading_drawn_away_from_the_grid_is_counted_as_misplaced():
    # BOX is 100 px: a cell is 11.1 px. 5 px off is the outline's own error; 20 px off
    # draws the digits in the next cells; a second grid far away with the digits too.
    records = _records([PUZZLE, PUZZLE, PUZZLE, None], dx=(5, 20, 0, 0))
    records[2]["grids"] = [
        {"found": True, "corners": BOX, "digits": PUZZLE},
        {"found": True, "corners": [[x + 150, y] for x, y in BOX], "digits": PUZZLE},
    ]
    # A grid without a reading off the grid draws no digits: not counted.
    records[3].update(found=True, corners=[[x + 50, y] for x, y in BOX])
    score = score_video(records, _truth([True] * 4))
    assert score.misplaced_frames == 2
    assert score.wrong_frames == 0  # the digits alone are right


def test_wrong_frames_partly_in_view_and_readings_on_unreadable_footage():
    # BOX lies inside the 320x240 frame; "in_view" False with corners is a grid partly out.
    truth = _truth([True, False, False, True])
    score = score_video(_records([PUZZLE, WRONG, PUZZLE, WRONG]), truth)
    assert (score.wrong_frames, score.partial_wrong_frames) == (2, 1)
    frames = [{"frame": i, "corners": BOX, "in_view": True} for i in range(3)]
    unreadable = VideoTruth.from_json(
        {"size": [320, 240], "digits": PUZZLE, "readable": False, "frames": frames}
    )
    score = score_video(_records([None, PUZZLE, WRONG]), unreadable)
    assert (score.unreadable_frames, score.unreadable_shown_frames) == (3, 2)
    assert score.wrong_frames == 1


def test_false_grids_corner_error_and_jitter():
    truth = _truth([True, True, True, None, None])
    score = score_video(_records([PUZZLE, PUZZLE, PUZZLE, "-", PUZZLE], dx=[0, 1, 0, 0, 0]), truth)
    assert score.no_grid_frames == 2 and score.false_grid_frames == 1
    assert score.corner_error_px == pytest.approx(1 / 3)
    assert score.jitter_px == pytest.approx(1.0)


def test_corner_error_is_the_outlines_whichever_corner_the_truth_starts_from():
    # A page photographed upside down: its truth lists the corners from the photo's
    # top-left, the reading from the puzzle's (the opposite corner).
    records = _records([PUZZLE, PUZZLE], dx=[1, 1])
    for record in records:
        record["corners"] = record["corners"][2:] + record["corners"][:2]
    score = score_video(records, _truth([True, True]))
    assert score.corner_error_px == pytest.approx(1.0)


def test_frames_smeared_by_a_whip_pan_are_told_apart_from_steady_ones():
    # The footage generator's truth says how long the shutter is open (a third of the frame
    # time); a grid of 100 px (cells of 11 px) that jumps 30 px between frames 2 and 3 is
    # smeared by 10 px there, about 0.9 cell: those frames are not steady.
    boxes = [BOX, BOX, BOX, [[x + 30, y] for x, y in BOX], [[x + 30, y] for x, y in BOX]]
    frames = [{"frame": i, "corners": box, "in_view": True} for i, box in enumerate(boxes)]
    data = {"size": [320, 240], "digits": PUZZLE, "frames": frames}
    steady = VideoTruth.from_json(data)
    assert all(f.smear_cells == 0 for f in steady.frames)  # no shutter time: all steady
    truth = VideoTruth.from_json({**data, "spec": {"exposure": 1 / 3}})
    smears = [round(f.smear_cells, 2) for f in truth.frames]
    assert smears == [0, 0, 0.9, 0.9, 0]
    score = score_video(_records([PUZZLE, PUZZLE, None, None, PUZZLE]), truth)
    assert (score.right_frames, score.in_view_frames) == (3, 5)
    assert (score.steady_right_frames, score.steady_in_view_frames) == (3, 3)
    assert score.steady_right_share == 1.0
    assert score.summary()["steady_right_share"] == 1.0


def test_bad_truth_is_rejected_with_a_message():
    with pytest.raises(ValueError, match="corners must have shape"):
        VideoTruth.from_json({"size": [1, 1], "frames": [{"corners": [[0, 0]]}]})


@needs_model
@pytest.mark.accuracy
def test_printed_clip_meets_the_targets(tmp_path):
    build_kind_clip(tmp_path / "printed.mp4", "printed", frames=150, seed=4)
    score = score_clip(tmp_path / "printed.mp4")
    assert score.appearances == 2
    assert all(a is not None and a <= 10 for a in score.acquisition_frames)
    assert score.right_share >= 0.9  # acquisition frames count against it in a short clip
    assert score.flicker == 0 and score.false_grid_frames == 0 and score.wrong_frames == 0
    assert score.jitter_px < 1.0


@needs_model
@pytest.mark.accuracy
def test_switch_and_empty_clips(tmp_path):
    build_kind_clip(tmp_path / "switch.mp4", "switch", frames=80, seed=1)
    score = score_clip(tmp_path / "switch.mp4")
    assert score.appearances == 2 and score.flicker == 0
    assert all(a is not None and a <= 12 for a in score.acquisition_frames)
    build_kind_clip(tmp_path / "empty.mp4", "empty", frames=40, seed=2)
    assert score_clip(tmp_path / "empty.mp4").false_grid_frames == 0


def test_missing_truth_file_gives_one_line(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "streamocr", "eval-video", "x.mp4", "--truth", str(tmp_path / "t")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert process.returncode == 2
    assert process.stderr.startswith("streamocr: error: truth file not found")
