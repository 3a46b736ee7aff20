"""The tracked-outline verifier: refines a predicted outline, rejects what is no grid."""

from __future__ import annotations

import os
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from streamocr.grid import homography_for
from streamocr.preprocess import ink_gray
from streamocr.synth.builders import render_grid
from streamocr.tracking import GridTracker
from streamocr.types import GridDetection
from streamocr.verify import OutlineVerifier

SIZE = (640, 480)
GRID = render_grid(cell_px=32, seed=5)
SIDE = GRID.shape[0] - 1
MARGIN = 20  # paper around the grid, as on a printed page
TRUTH = np.array([[170, 80], [470, 92], [462, 400], [160, 388]], np.float32)


def _frame(
    corners: np.ndarray,
    image: np.ndarray = GRID,
    seed: int = 0,
    margin: int = MARGIN,
    paper: int = 250,
    desk: int = 110,
) -> np.ndarray:
    """A page with the grid (or another square image) at `corners`, `margin` pixels of
    `paper` around it, on a darker `desk`."""
    w, h = SIZE
    side = image.shape[0] - 1
    page = cv2.copyMakeBorder(image, *(4 * [margin]), cv2.BORDER_CONSTANT, value=(paper,) * 3)
    src = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32) + margin
    m = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    scene = np.full((h, w, 3), desk, np.uint8)
    scene = cv2.warpPerspective(page, m, (w, h), dst=scene, borderMode=cv2.BORDER_TRANSPARENT)
    noise = np.random.default_rng(seed).normal(0, 2, scene.shape)
    return np.clip(scene + noise, 0, 255).astype(np.uint8)


def _stream(tracking=None):
    """A stream reader without a model (`locate` reads no digit)."""
    from streamocr.config import Config
    from streamocr.reader import SudokuReader
    from streamocr.stream import StreamReader

    reader = SudokuReader(recognizer=object())  # type: ignore[arg-type]
    return StreamReader(reader, Config().stabilize, detect_every=30, tracking=tracking)


def _count_searches(stream) -> list[int]:
    """The indices of the frames `stream.locate` runs the full search on, as it runs."""
    finder, locate, searched, current = stream.reader.finder, stream.locate, [], [0]
    search = finder.detect_all

    def counted(image, max_grids=4):
        searched.append(current[0])
        return search(image, max_grids)

    def located(image, index, cut=True):
        current[0] = index
        return locate(image, index, cut)

    finder.detect_all = counted
    stream.locate = located
    return searched


@pytest.mark.parametrize(
    "offset",
    [
        np.zeros((4, 2)),
        np.float32([[3, -2], [2, 3], [-3, 2], [-2, -3]]),  # a few pixels off, each corner
        np.full((4, 2), 4.0),  # the whole outline shifted (the flow lagging a moving page)
    ],
)
def test_a_predicted_outline_is_refined_onto_the_grid(offset):
    gray = ink_gray(_frame(TRUTH))
    found = OutlineVerifier().verify(gray, TRUTH + offset.astype(np.float32))
    assert found is not None
    assert np.abs(found.corners - TRUTH).max() < 1.0
    assert found.score > 0.3


def test_the_corner_order_of_the_prediction_is_kept():
    gray = ink_gray(_frame(TRUTH))
    rolled = np.roll(TRUTH, -1, axis=0) + 2
    found = OutlineVerifier().verify(gray, rolled)
    assert found is not None
    assert np.abs(found.corners - np.roll(TRUTH, -1, axis=0)).max() < 1.0


@pytest.mark.parametrize(
    "case",
    ["blank paper", "outline shifted by a cell", "grid beyond the frame's edge"],
)
def test_what_is_not_the_grid_is_not_verified(case):
    verifier = OutlineVerifier()
    if case == "blank paper":
        paper = np.full_like(GRID, 235)
        cv2.rectangle(paper, (0, 0), (SIDE, SIDE), (20, 20, 20), 4)  # a frame, no lattice
        gray, predicted = ink_gray(_frame(TRUTH, paper)), TRUTH
    elif case == "outline shifted by a cell":
        # A cell is a ninth of the side: half a cell off is beyond what a border may move.
        step = (TRUTH[1] - TRUTH[0]) / 9
        gray, predicted = ink_gray(_frame(TRUTH)), TRUTH + 0.5 * step
    else:
        shifted = TRUTH - np.float32([200, 0])
        gray, predicted = ink_gray(_frame(shifted)), shifted
    assert verifier.verify(gray, predicted) is None


def test_a_followed_grid_is_verified_on_frames_without_a_search():
    """Between full searches the tracker checks each grid where the flow put it: the grid
    counts as found (cut along the verified outline), and a grid that is gone is not."""
    tracker = GridTracker(verifier=OutlineVerifier())
    for _ in range(2):  # two detections establish the track
        tracker.update(_frame(TRUTH), [GridDetection(TRUTH, homography_for(TRUTH, 360), 360)])
    assert not tracker.needs_search
    moved = TRUTH + np.float32([2.5, 1.5])
    (grid,) = tracker.update(_frame(moved, seed=1), None)
    assert grid.detected and grid.measured is not None
    assert np.abs(grid.measured.corners - moved).max() < 1.0
    assert not tracker.needs_search
    # The page is swapped for blank paper under the same outline: nothing is verified (or
    # followed), and the next frame asks for the full search.
    blank = np.full_like(GRID, 235)
    grids = tracker.update(_frame(moved, blank, seed=2), None)
    assert not any(g.detected or g.measured is not None for g in grids)
    assert tracker.needs_search


def test_a_confirmed_unchanged_board_is_reread_only_every_few_frames():
    """Cells of a confirmed board whose page looks the same are cut and recognised every
    `reread_every` frames; a page swapped under the same outline is read at once."""
    from streamocr.config import Config, PipelineSettings
    from streamocr.stream import StreamReader, recognize_grids
    from streamocr.synth.clips import other_puzzle

    config = Config(pipeline=PipelineSettings(reread_every=3))
    stream = StreamReader.from_config(config)

    def step(image: np.ndarray, index: int) -> bool:
        grids = stream.locate(image, index)
        stream.prepare(grids)
        recognize_grids(stream.reader.recognizer, grids)
        stream.observe(grids)
        return grids[0].cells is not None

    page = _frame(TRUTH)
    index = 0
    while stream.result_filter.locked_orientation(0) is None:
        assert step(page, index)  # read on every frame until confirmed
        index += 1
        assert index < 20
    read = [step(_frame(TRUTH, seed=index + k), index + k) for k in range(6)]
    assert read.count(True) == 2  # one frame in three
    assert read.index(True) + 3 == 5 - read[::-1].index(True)
    last = index + 5 - read[::-1].index(True)
    for unchanged in range(index + 6, last + 3):
        assert not step(_frame(TRUTH, seed=unchanged), unchanged)
    index = last + 3
    swapped = _frame(TRUTH, render_grid(other_puzzle()[0], cell_px=32, seed=5))
    assert step(_frame(TRUTH, seed=98), index)  # three frames since the last read: read
    assert not step(_frame(TRUTH, seed=99), index + 1)  # unchanged, read a frame ago
    assert step(swapped, index + 2)  # a new page under the outline: read at once


def test_a_live_streams_periodic_reread_runs_off_the_frames_thread_and_is_taken_up():
    """With `reread_in_background` (live sources), a confirmed, unchanged board due for its
    re-read is cut and recognised on the re-read thread: the frame goes on showing the
    confirmed reading, and a later frame adds the re-read's evidence to the board. A page
    swapped under the same outline is still read at once, in line."""
    from streamocr.config import Config, PipelineSettings
    from streamocr.stream import StreamReader, recognize_grids
    from streamocr.synth.clips import other_puzzle

    stream = StreamReader.from_config(Config(pipeline=PipelineSettings(reread_every=3)))
    cut_on: list[str] = []
    real = stream.reader.extract_at

    def spied(gray, where):
        cut_on.append(threading.current_thread().name)
        return real(gray, where)

    stream.reader.extract_at = spied  # type: ignore[method-assign]
    stream.reread_in_background()

    def step(image: np.ndarray, index: int):
        grids = stream.locate(image, index)
        in_line = grids[0].cells is not None
        stream.prepare(grids)
        recognize_grids(stream.reader.recognizer, grids)
        results = stream.observe(grids)
        rereader = stream._rereader
        deadline = time.monotonic() + 10.0
        while rereader is not None and rereader._busy and time.monotonic() < deadline:
            time.sleep(0.005)  # its answer is ready for the next frame
        return in_line, results

    try:
        index = 0
        while stream.result_filter.locked_orientation(0) is None:
            assert step(_frame(TRUTH, seed=index), index)[0]  # read in line until confirmed
            index += 1
            assert index < 20
        confirmed = None
        for _ in range(3):  # until the confirmed reading is shown
            _, results = step(_frame(TRUTH, seed=index), index)
            index += 1
            if results and results[0].status == "solved":
                confirmed = results[0].reading.digits.copy()
        assert confirmed is not None
        board = stream.result_filter._boards[0]
        seen = board.cells.seen.copy()
        cut_on.clear()
        for _ in range(12):
            in_line, results = step(_frame(TRUTH, seed=index), index)
            index += 1
            assert not in_line  # never cut on the frame's own thread
            assert results[0].status == "solved"
            np.testing.assert_array_equal(results[0].reading.digits, confirmed)
        # About one re-read in three frames, all on the re-read thread, their evidence
        # added to the board (every cell in view).
        assert 3 <= len(cut_on) <= 5, cut_on
        assert set(cut_on) == {"streamocr-reread"}
        assert (board.cells.seen >= seen + 3).all()
        swapped = _frame(TRUTH, render_grid(other_puzzle()[0], cell_px=32, seed=5))
        assert step(swapped, index)[0]  # a new page under the outline: read at once
    finally:
        stream.close()
    assert stream._rereader is None


def test_while_nothing_is_there_only_every_nth_frame_is_searched_and_a_grid_is_found_soon():
    from streamocr.config import TrackingSettings

    stream = _stream(TrackingSettings(idle_search_every=3))
    searched = _count_searches(stream)
    blank = np.full_like(_frame(TRUTH), 235)
    for frame in range(10):
        stream.locate(blank, frame)
    assert searched == [0, 3, 6, 9]
    # The grid comes into view at frame 10: found at the next search and searched on the
    # next frame, which confirms it; then the tracker's check follows it.
    searched.clear()
    for frame in range(10, 16):
        stream.locate(_frame(TRUTH), frame)
    assert searched == [12, 13], searched
    assert stream.tracker is not None and stream.tracker.tracking


def test_a_grid_with_faint_thin_lines_is_verified_by_its_lines_on_the_gray():
    # The thin lines of dim, blurred footage are lost to the binarised structure score;
    # with the search's second look (`line_score`) the followed grid is still verified.
    from streamocr.synth.builders import faint_lines_photo

    photo = faint_lines_photo(thin=150)
    gray = ink_gray(photo.image)
    predicted = photo.corners + np.float32([[2, -1], [1, 2], [-2, 1], [-1, -2]])
    assert OutlineVerifier(360, 0.12).verify(gray, predicted) is None
    found = OutlineVerifier(360, 0.12, min_line_score=0.03).verify(gray, predicted)
    assert found is not None
    assert np.abs(found.corners - photo.corners).max() < 3.0
    # Shifted by a cell, the outline is not verified.
    step = (photo.corners[1] - photo.corners[0]) / 9
    assert OutlineVerifier(360, 0.12, min_line_score=0.03).verify(gray, predicted + step) is None


def test_a_followed_grid_reaching_the_edge_is_searched_every_nth_frame_and_followed_by_flow():
    # A corner out of view: the verifier cannot find that border again, and the full search
    # runs only every `edge_search_every` frames; the flow carries the grid in between.
    from streamocr.config import TrackingSettings

    stream = _stream(TrackingSettings(edge_search_every=3))
    searched = _count_searches(stream)
    for frame in range(4):  # acquired and established in full view
        stream.locate(_frame(TRUTH, seed=frame), frame)
    searched.clear()
    errors = []
    for frame in range(4, 26):  # slides right until a corner is 40 px out of the frame
        shift = np.float32([min(frame - 3, 14) * 15, 0])
        grids = stream.locate(_frame(TRUTH + shift, seed=frame), frame)
        assert len(grids) == 1
        errors.append(float(np.abs(grids[0].detection.corners - (TRUTH + shift)).max()))
    out = [f for f in range(4, 26) if (TRUTH[:, 0] + min(f - 3, 14) * 15 > 637).any()]
    assert len(out) >= 8
    during = [f for f in searched if f in out]
    # About one frame in three while it reaches the edge (not every frame).
    assert 0 < len(during) <= len(out) // 3 + 1, (searched, out)
    assert max(errors) < 4.0, errors


def test_cells_left_to_cut_on_another_thread_are_the_cells_cut_at_once():
    # The pipeline's process stage locates; its recognition stage cuts (`cut_cells`).
    at_once, deferred = _stream(), _stream()
    for index in range(4):
        frame = _frame(TRUTH, seed=index)
        now, later = at_once.locate(frame, index), deferred.locate(frame, index, cut=False)
        assert later and all(g.cells is None and g.pending is not None for g in later)
        deferred.cut_cells(later, index)
        for a, b in zip(now, later, strict=True):
            assert b.pending is None and a.cells is not None and b.cells is not None
            np.testing.assert_array_equal(a.cells.inputs, b.cells.inputs)
            np.testing.assert_array_equal(a.cells.has_ink, b.cells.has_ink)


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_the_background_search_runs_at_a_lower_priority_than_the_frames():
    # On two busy cores the search (a tenth of a second of CPU once a second) competes with
    # the frames' threads for the CPU: it should be the one to wait.
    from streamocr.stream import BackgroundJob

    search = BackgroundJob(lambda gray: [])
    try:
        assert search.submit(0, np.zeros((8, 8), np.uint8))
        for _ in range(200):
            answer = search.take()
            if answer is not None:
                break
            time.sleep(0.01)
        assert answer == (0, [])
        thread = search._thread.native_id
        assert thread is not None
        base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert os.getpriority(os.PRIO_PROCESS, thread) >= max(10, base)
    finally:
        search.close()


def _wait_for_background_search(stream, timeout_s=10.0):
    """Until the stream's background search (if one is running) has answered."""
    search = stream._background
    deadline = time.monotonic() + timeout_s
    while search is not None and search._busy and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_background_search_finds_the_grid_off_the_frames_thread_and_it_is_followed():
    # Live sources: the frame that wants a search goes on without it; a later frame takes
    # up its grids, each checked by the verifier where it lies in that frame.
    stream = _stream()
    reader = stream.reader
    threads: list[str] = []
    real = reader.finder.detect_all

    def slow(image, max_grids=4):
        threads.append(threading.current_thread().name)
        time.sleep(0.05)
        return real(image, max_grids)

    reader.finder.detect_all = slow  # type: ignore[method-assign]
    stream.search_in_background()
    try:
        blank = np.full_like(_frame(TRUTH), 235)
        assert stream.locate(blank, 0) == []
        shown_at = None
        for frame in range(1, 40):
            shift = np.float32([frame * 2, frame])  # the page drifts: late answers are stale
            grids = stream.locate(_frame(TRUTH + shift, seed=frame), frame)
            if grids and grids[0].established:
                error = np.abs(grids[0].detection.corners - (TRUTH + shift)).max()
                assert error < 3.0, (frame, error)
                shown_at = shown_at if shown_at is not None else frame
            # A frame's time at a camera's pace, and the search's answer ready for the
            # next frame: on a loaded machine the search (at a lower priority) may take
            # many frames' time, which would only test the machine's load.
            time.sleep(0.02)
            _wait_for_background_search(stream)
        assert shown_at is not None and shown_at <= 12, shown_at
        assert threads and set(threads) == {"streamocr-search"}
    finally:
        stream.close()


@pytest.mark.parametrize("margin", [2, 3, 5])
def test_a_page_trimmed_close_to_its_grid_is_placed_on_its_borders(margin):
    # A real newspaper page cut a few pixels beyond its grid, on a dark desk: the paper
    # beside each border was looked for a fifth of a cell away, on the desk, so no border
    # showed as a line, and the search's outline, a third of a cell out on the page's
    # edge, stayed there (the empty cells of that column then held a grid line in their
    # middles; a clear 1080p clip went unread for 53 frames).
    from streamocr.borders import find_borders
    from streamocr.grid import GridFinder

    gray = ink_gray(_frame(TRUTH, margin=margin, paper=245, desk=60))  # trimmed close
    centre = TRUTH.mean(axis=0)
    outward = centre + (TRUTH - centre) * 1.03  # the page's edge, about a third of a cell out
    fit = find_borders(gray, outward)
    assert fit is not None
    assert np.abs(fit.corners - TRUTH).max() < 2.0  # the border's middle, 1-2 px inside
    found = GridFinder().detect(gray)
    assert found is not None
    assert np.abs(found.corners - TRUTH).max() < 1.5


def test_the_edge_of_a_blank_page_on_a_dark_desk_is_no_border():
    # The narrow look for paper beside a line must not take a page's edge for a border: a
    # step from desk to paper is never darker than both its sides.
    from streamocr.borders import find_borders

    blank = np.full((480, 640, 3), 60, np.uint8)
    page = np.array([[150, 70], [480, 82], [472, 410], [140, 398]], np.int32)
    cv2.fillConvexPoly(blank, page, (245, 245, 245))
    gray = ink_gray(blank)
    assert find_borders(gray, page.astype(np.float32)) is None


def _fit_lines_numpy(along, across, keep):
    """The borders' line fit as NumPy writes it (the code the compiled
    `borders._fit_lines` replaced): None, or a (slope, offset) per row."""
    x = np.broadcast_to(along, across.shape)
    first, second = np.triu_indices(across.shape[1], 1)
    slopes = (across[:, second] - across[:, first]) / (x[:, second] - x[:, first])
    offsets = across[:, first] - slopes * x[:, first]
    near = np.abs(across[:, None, :] - (slopes[..., None] * along + offsets[..., None]))
    near = (near <= 1.5) & keep[:, None, :]
    counts = near.sum(axis=2) * (keep[:, first] & keep[:, second])
    keep = near[np.arange(len(across)), counts.argmax(axis=1)]
    for _ in range(2):
        count = keep.sum(axis=1)
        if (count < 12).any():
            return None
        x_mean = np.where(keep, x, 0).sum(axis=1) / count
        y_mean = np.where(keep, across, 0).sum(axis=1) / count
        dx = np.where(keep, x - x_mean[:, None], 0)
        dy = np.where(keep, across - y_mean[:, None], 0)
        slope = (dx * dy).sum(axis=1) / np.maximum((dx**2).sum(axis=1), 1e-9)
        offset = y_mean - slope * x_mean
        residual = np.abs(across - (slope[:, None] * along + offset[:, None]))
        ranked = np.sort(np.where(keep, residual, np.inf), axis=1)
        rows = np.arange(len(across))
        spread = (ranked[rows, (count - 1) // 2] + ranked[rows, count // 2]) / 2
        keep = keep & (residual <= np.maximum(1.0, 2.5 * spread)[:, None])
    if (keep.sum(axis=1) < 12).any():
        return None
    return [(float(a), float(b)) for a, b in zip(slope, offset, strict=True)]


def test_the_compiled_border_fit_is_numpys_to_the_bit():
    from streamocr.borders import _fit_lines, _stretches

    rng = np.random.default_rng(11)
    found = 0
    for _ in range(400):
        cell = int(rng.integers(12, 33))
        _, along = _stretches(cell, 9 * cell)
        # Four tilted borders with sub-pixel noise, some stretches off the line (digits,
        # smudges) and some not found at all.
        slope = rng.normal(0, 0.05, (4, 1))
        across = 40 + slope * along + rng.normal(0, rng.uniform(0.05, 1.0), (4, len(along)))
        stray = rng.random(across.shape) < rng.uniform(0, 0.4)
        across[stray] += rng.uniform(-8, 8, stray.sum())
        keep = rng.random(across.shape) > rng.uniform(0, 0.3)
        fitted = np.empty((4, 2))
        expected = _fit_lines_numpy(along, across, keep)
        assert _fit_lines(along, across, keep, fitted) == (expected is not None)
        if expected is not None:
            found += 1
            assert [tuple(row) for row in fitted.tolist()] == expected
    assert 50 < found < 350  # both outcomes exercised
