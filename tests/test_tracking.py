"""Grid tracking: following synthetic motion, keeping corner order, loss, new grids."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streamocr import tracking
from streamocr.grid import homography_for
from streamocr.synth.builders import PUZZLE, render_grid
from streamocr.tracking import GridTracker, roll_to_match, visible_cells
from streamocr.types import GridDetection

SIZE = (480, 360)
GRID = render_grid(cell_px=24, seed=3)  # 217 px square
SIDE = GRID.shape[0] - 1


def _frame(corners, seed=0, grid=GRID):
    w, h = SIZE
    src = np.array([[0, 0], [SIDE, 0], [SIDE, SIDE], [0, SIDE]], np.float32)
    m = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    scene = np.full((h, w, 3), 120, np.uint8)
    scene = cv2.warpPerspective(grid, m, (w, h), dst=scene, borderMode=cv2.BORDER_TRANSPARENT)
    noise = np.random.default_rng(seed).normal(0, 2, scene.shape)
    return np.clip(scene + noise, 0, 255).astype(np.uint8)


def _corners(t, motion):
    base = np.array([[130, 70], [350, 75], [345, 290], [125, 285]], np.float32)
    if motion == "still":
        return base
    if motion == "pan":
        return base + np.float32([3.0 * t, 1.5 * t])
    if motion == "rotate":
        a = 0.01 * t
        c = base.mean(axis=0)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
        return (base - c) @ rot.T + c
    raise ValueError(motion)


def _detection(corners):
    return GridDetection(corners, homography_for(corners, 360), 360)


@pytest.mark.parametrize(
    ("motion", "max_error_px"),
    [
        ("still", 0.5),
        ("pan", 1.0),  # 3.4 px a frame, followed by flow alone
        ("rotate", 1.0),
    ],
)
def test_flow_follows_motion_between_detections(motion, max_error_px):
    tracker = GridTracker(max_missed_frames=100)
    first = _corners(0, motion)
    tracker.update(_frame(first), [_detection(first)])
    errors, moves = [], []
    last = first
    for t in range(1, 30):
        truth = _corners(t, motion)
        grids = tracker.update(_frame(truth, seed=t), None)  # flow only
        assert len(grids) == 1
        corners = grids[0].detection.corners
        errors.append(np.linalg.norm(corners - truth, axis=1).max())
        moves.append(np.abs(corners - last).max())
        last = corners
    assert max(errors) < max_error_px
    if motion == "still":
        assert max(moves) < 0.1  # a still page gives a still outline


def test_detection_order_is_rolled_to_the_track_order():
    tracker = GridTracker()
    corners = _corners(0, "still")
    grids = tracker.update(_frame(corners), [_detection(corners)])
    track_id = grids[0].track_id
    rolled = np.roll(corners, 1, axis=0)  # the finder started from another corner
    grids = tracker.update(_frame(corners, 1), [_detection(rolled)])
    assert grids[0].track_id == track_id and grids[0].established
    assert np.allclose(grids[0].detection.corners, corners, atol=0.5)
    again, dist = roll_to_match(rolled, corners)
    assert dist < 1e-3 and np.allclose(again, corners)


def test_grid_leaving_the_view_is_dropped_at_once():
    tracker = GridTracker(min_visible_share=0.5)
    corners = _corners(0, "still")
    tracker.update(_frame(corners), [_detection(corners)])
    shown = []
    for t in range(1, 40):
        moved = corners + np.float32([12.0 * t, 0])
        share_inside = np.clip((SIZE[0] - moved[:, 0].min()) / 220.0, 0, 1)
        grids = tracker.update(_frame(moved, t), None)
        shown.append((bool(grids), share_inside))
    gone = [i for i, (present, _) in enumerate(shown) if not present]
    assert gone, "the grid never left"
    assert all(not present for present, _ in shown[gone[0] :])
    assert shown[gone[0]][1] <= 0.55  # dropped once about half of it has left


def test_a_far_detection_starts_a_new_track():
    # One page taken away and another put down 80 px off in the next frame: the flow
    # cannot carry the first grid there, so the second is a new grid.
    tracker = GridTracker()
    corners = _corners(0, "still")
    first = tracker.update(_frame(corners), [_detection(corners)])[0].track_id
    jumped = corners + np.float32([80, 20])
    other = render_grid("".join(np.array(list(PUZZLE)).reshape(9, 9).T.ravel()), cell_px=24)
    grids = tracker.update(_frame(jumped, grid=other), [_detection(jumped)])
    assert [g.track_id for g in grids] != [first]
    assert not grids[0].established  # a new grid must be confirmed before it is shown


def test_a_grid_carried_by_a_jump_is_a_new_board_once_found_at_rest():
    # The same page jerked 80 px: the coarse match carries its outline (the overlay
    # goes with the page), but what it matched is a grid's shape, not its page. Found
    # again once the page has stopped, the grid has a new id (the stabiliser's recall
    # shows its reading again as soon as a frame reads it so); the flow does not carry
    # the stopped page on by the jerk's motion.
    tracker = GridTracker()
    corners = _corners(0, "still")
    first = _established_track(tracker, corners)
    jumped = corners + np.float32([80, 20])
    (moving,) = tracker.update(_frame(jumped, 2), [_detection(jumped)])
    assert moving.track_id == first
    assert np.abs(moving.detection.corners - jumped).max() < 1.0
    (rest,) = tracker.update(_frame(jumped, 3), [_detection(jumped)])
    assert rest.track_id != first and rest.established
    assert np.abs(rest.detection.corners - jumped).max() < 1.0
    (again,) = tracker.update(_frame(jumped, 4), [_detection(jumped)])
    assert again.track_id == rest.track_id  # one new id, kept


def _established_track(tracker, corners):
    tracker.update(_frame(corners), [_detection(corners)])
    (grid,) = tracker.update(_frame(corners, 1), [_detection(corners)])
    assert grid.established
    return grid.track_id


def test_one_stray_outline_does_not_end_an_established_track():
    # Dim, noisy frames sometimes yield one misplaced outline over the grid (lines of the
    # lattice shifted by cells): the grid stays followed, and the stray goes. Until the
    # next search finds the grid again, nothing is drawn on it: of two overlapping
    # outlines one is not where a grid is, and the frame cannot tell which.
    tracker = GridTracker()
    corners = _corners(0, "still")
    track_id = _established_track(tracker, corners)
    stray = corners + np.float32([45, -40])
    grids = tracker.update(_frame(corners, 2), [_detection(stray)])
    (kept,) = [g for g in grids if g.track_id == track_id]
    assert kept.established and kept.in_doubt
    (kept,) = [g for g in tracker.update(_frame(corners, 3), None) if g.track_id == track_id]
    assert kept.in_doubt  # flow alone does not settle it
    grids = tracker.update(_frame(corners, 4), [_detection(corners)])
    assert [g.track_id for g in grids] == [track_id]
    assert not grids[0].in_doubt


def test_a_first_outline_the_search_does_not_find_again_ends_when_another_is_found_over_it():
    # A page whipped across the view: each search finds the grid far from where the last
    # one did, and the flow, slipping along the lattice, leaves the last outline a few
    # cells off. That outline, found once and not again, ends: it is not drawn beside the
    # grid (a remembered puzzle is shown on a grid found once, `Stabilizer._recall`).
    tracker = GridTracker()
    corners = _corners(0, "still")
    tracker.update(_frame(corners), [_detection(corners)])
    moved = corners + np.float32([70, 10])
    grids = tracker.update(_frame(moved, 1), [_detection(moved)])
    assert len(grids) == 1
    assert np.allclose(grids[0].detection.corners, moved, atol=1.0)


def test_a_grid_found_twice_elsewhere_replaces_the_track_it_overlaps():
    tracker = GridTracker()
    corners = _corners(0, "still")
    track_id = _established_track(tracker, corners)
    jumped = corners + np.float32([60, 20])
    tracker.update(_frame(jumped, 2), [_detection(jumped)])
    grids = tracker.update(_frame(jumped, 3), [_detection(jumped)])
    assert len(grids) == 1 and grids[0].track_id != track_id and grids[0].established
    assert np.allclose(grids[0].detection.corners, jumped, atol=1.0)


def test_visible_cells():
    corners = np.array([[-45, 0], [225, 0], [225, 270], [-45, 270]], np.float32)
    visible = visible_cells(corners, 480, 360).reshape(9, 9)
    assert not visible[:, :2].any() and visible[:, 2:].all()  # two columns cut off


def test_cells_are_cut_along_this_frames_detection():
    tracker = GridTracker()
    corners = _corners(0, "still")
    tracker.update(_frame(corners), [_detection(corners)])
    # The finder places the corners 1.5 px off where the flow keeps them: the overlay only
    # eases toward the detection (steady display), the cells are cut along it.
    found = corners + np.float32([1.5, 0.0])
    (grid,) = tracker.update(_frame(corners, 1), [_detection(found)])
    assert np.abs(grid.detection.corners - found).max() > 0.5
    assert np.allclose(grid.cut.corners, found)
    (flow_only,) = tracker.update(_frame(corners, 2), None)
    assert flow_only.measured is None and flow_only.cut is flow_only.detection


def test_one_outline_shifted_by_a_cell_does_not_move_the_track():
    # The search sometimes outlines the lattice one cell off (noise, a neighbouring box):
    # a still page's outline stays put; only a second search agreeing moves it.
    tracker = GridTracker()
    corners = _corners(0, "still")
    _established_track(tracker, corners)
    shifted = corners + np.float32([24, 0])  # one cell of the 217 px grid
    (grid,) = tracker.update(_frame(corners, 2), [_detection(shifted)])
    assert np.abs(grid.detection.corners - corners).max() < 1.0
    assert grid.measured is None  # its cells are not cut along the doubtful outline
    (grid,) = tracker.update(_frame(corners, 3), [_detection(corners)])
    assert np.abs(grid.detection.corners - corners).max() < 1.0
    tracker.update(_frame(corners, 4), [_detection(shifted)])
    (grid,) = tracker.update(_frame(corners, 5), [_detection(shifted)])
    assert np.abs(grid.detection.corners - shifted).max() < 1.0  # confirmed: followed


def test_a_first_outline_replaced_by_a_better_one_leaves_no_ghost():
    # A grid coming into view is first outlined badly (part of it), then properly: once
    # the proper outline is established, the first track ends instead of lingering.
    tracker = GridTracker()
    corners = _corners(0, "still")
    partial = corners.copy()
    partial[1:3, 0] -= 120  # the right half of the grid not yet found
    tracker.update(_frame(corners), [_detection(partial)])
    tracker.update(_frame(corners, 1), [_detection(corners)])
    grids = tracker.update(_frame(corners, 2), [_detection(corners)])
    assert len(grids) == 1 and grids[0].established


def _box(corners, row, col):
    """The outline of one 3x3 box of the grid at `corners` (a parallelogram here)."""
    tl, tr, _, bl = corners
    across, down = (tr - tl) / 3, (bl - tl) / 3
    start = tl + col * across + row * down
    return np.array([start, start + across, start + across + down, start + down], np.float32)


def test_a_box_of_the_grid_outlined_alone_never_replaces_the_grid():
    # A blurred frame may outline one 3x3 box and not the grid: the box is no puzzle of
    # its own, however often it is found, and the grid stays followed and shown.
    tracker = GridTracker()
    corners = _corners(0, "still")
    track_id = _established_track(tracker, corners)
    box = _box(corners, 0, 2)
    for seed in (2, 3, 4):
        grids = tracker.update(_frame(corners, seed), [_detection(box)])
        assert [g.track_id for g in grids] == [track_id]
        assert grids[0].established


def test_a_grid_found_around_an_established_box_replaces_it():
    # The grid comes into view blurred: a box is found twice (and established) before the
    # grid itself is. The grid's first outline ends the box rather than being doubted.
    tracker = GridTracker()
    corners = _corners(0, "still")
    frame = _frame(corners)  # one still frame: the small box's flow points hold
    box = _box(corners, 1, 1)
    tracker.update(frame, [_detection(box)])
    assert tracker.update(frame, [_detection(box)])[0].established
    grids = tracker.update(frame, [_detection(corners)])
    assert len(grids) == 1 and np.allclose(grids[0].detection.corners, corners)
    # A search that finds nothing, then one that finds the box again: the grid's first
    # outline is followed by flow meanwhile.
    tracker.update(frame, [])
    tracker.update(frame, [_detection(box)])
    (grid,) = tracker.update(frame, [_detection(corners)])
    assert grid.established and np.allclose(grid.detection.corners, corners, atol=1.0)


def test_a_grid_carried_far_by_flow_alone_is_in_doubt_until_found_again():
    # Between checks the flow's small errors add up, and on a page whipped out of view or
    # back it is a cell off before the verifier finds the grid again: once the flow alone
    # has carried a grid `_ADRIFT_SIDES` (0.9) of its side since a search or the verifier
    # found it, nothing is drawn on it (hard footage: readings drawn half a cell or more
    # off a smeared page).
    limit = tracking._ADRIFT_SIDES
    assert limit == 0.9
    tracker = GridTracker(max_missed_frames=200)
    base = _corners(0, "still") - np.float32([110, 0])
    tracker.update(_frame(base), [_detection(base)])
    doubts = []
    steps = [10.0] * 20 + [-10.0] * 20  # 400 px of travel for a 217 px grid
    x = 0.0
    for t, step in enumerate(steps):
        x += step
        corners = base + np.float32([x, 0])
        (grid,) = tracker.update(_frame(corners, t + 1), None)
        doubts.append(grid.in_doubt)
    travelled = np.cumsum(np.abs(steps)) / SIDE
    assert not any(d for d, far in zip(doubts, travelled, strict=True) if far < limit - 0.1)
    assert all(d for d, far in zip(doubts, travelled, strict=True) if far > limit + 0.1)
    (grid,) = tracker.update(_frame(base, 99), [_detection(base)])
    assert not grid.in_doubt


def test_a_grid_swept_fast_is_in_doubt_from_its_second_frame_unfound():
    # A page swept out of view moves a cell or two a frame, smeared: the verifier loses
    # it, and at the frame's edge the flow's points stick while the page goes on. From
    # the second frame unfound after a step of `_SWEPT_SIDES` (0.2) of its side, nothing
    # is drawn on it; found again, it is drawn on at once.
    assert (tracking._SWEPT_SIDES, tracking._SWEPT_MISSED) == (0.2, 2)
    tracker = GridTracker(max_missed_frames=200)
    base = _corners(0, "still") - np.float32([110, 0])
    x = 0.0
    for t, step in enumerate([0.0, 15.0, 30.0]):  # found while it gathers pace
        x += step
        corners = base + np.float32([x, 0])
        (grid,) = tracker.update(_frame(corners, t), [_detection(corners)])
    doubts = []
    for t, step in enumerate([50.0, 50.0, 50.0], start=3):  # 0.23 of its side a frame
        x += step
        (grid,) = tracker.update(_frame(base + np.float32([x, 0]), t), None)
        doubts.append(grid.in_doubt)
    assert np.abs(grid.detection.corners - (base + np.float32([x, 0]))).max() < 3.0
    assert doubts == [False, True, True]  # followed right, but not drawn on unfound
    corners = base + np.float32([x, 0])
    (grid,) = tracker.update(_frame(corners, 9), [_detection(corners)])
    assert not grid.in_doubt
    # A slower page (a tenth of its side a frame) unfound as long is drawn on.
    tracker = GridTracker(max_missed_frames=200)
    tracker.update(_frame(base), [_detection(base)])
    for t in range(1, 4):
        (grid,) = tracker.update(_frame(base + np.float32([22.0 * t, 0]), t), None)
        assert not grid.in_doubt


def _smeared(frame, step):
    """`frame` smeared along `step` (x, y), as a hand-held camera's frame is in a jerk."""
    length = int(np.ceil(np.abs(step).max())) | 1
    kernel = np.zeros((length, length), np.float32)
    c = length // 2
    for s in np.linspace(-0.5, 0.5, 4 * length):
        kernel[round(c + s * step[1]), round(c + s * step[0])] = 1.0
    return cv2.filter2D(frame, -1, kernel / kernel.sum())


@pytest.mark.parametrize("coarse", [True, False])
def test_a_page_jerked_away_is_followed_through_the_smear(coarse, monkeypatch):
    # A hand pulls the page out of view: it moves 76 px a frame from a standstill (a third
    # of the grid's side), smeared over 11 px (under half a cell), too far for the flow to follow from where the
    # points were. The grid, matched shrunk and blurred (its lattice gone), gives the flow its
    # start; without that match the grid is lost on the jerk's first frame.
    if not coarse:
        monkeypatch.setattr(tracking, "_jump", lambda *args: None)
    tracker = GridTracker(max_missed_frames=30)
    base = _corners(0, "still") + np.float32([60, 0])
    for t in range(3):
        tracker.update(_frame(base, t), [_detection(base)])
    step = np.float32([-70.0, 30.0])
    errors = []
    for t in range(1, 3):
        truth = base + t * step
        grids = tracker.update(_smeared(_frame(truth, 10 + t), step / 7), None)
        if not grids:
            break
        errors.append(float(np.linalg.norm(grids[0].detection.corners - truth, axis=1).max()))
    if coarse:
        assert len(errors) == 2 and max(errors) < 3.0, errors
    else:
        assert not errors
