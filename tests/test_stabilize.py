"""Stabiliser: confirmation, hysteresis, no flicker, retraction, reset, loss, re-acquisition."""

from __future__ import annotations

import numpy as np
import pytest

from streamocr.config import StabilizeSettings, load_config
from streamocr.errors import ConfigError
from streamocr.grid import homography_for
from streamocr.solve import find_conflicts, solve
from streamocr.stabilize import GridObservation, Stabilizer
from streamocr.synth.builders import PUZZLE, SOLUTION
from streamocr.types import GridDetection

CORNERS = np.array([[40, 30], [300, 34], [296, 290], [36, 286]], np.float32)
DETECTION = GridDetection(CORNERS, homography_for(CORNERS, 360), 360)
TRUTH = np.array([int(c) for c in PUZZLE], np.int64)
OTHER = np.array([int(c) for c in PUZZLE[::-1]], np.int64)  # another puzzle's givens


def _probs(digits, sure=0.97, misread=(), rng=None):
    """Per-frame probabilities: `sure` on the digit, the rest spread; `misread` cells swap."""
    p = np.full((81, 10), (1 - sure) / 9, np.float32)
    read = np.array(digits).copy()
    for i in misread:
        read[i] = (read[i] % 9) + 1
    p[np.arange(81), read] = sure
    if rng is not None:  # noisy confidence, frame to frame
        p *= rng.uniform(0.6, 1.4, p.shape)
        p /= p.sum(axis=1, keepdims=True)
    return p


def _obs(probs, track_id=0, visible=None, ink=None):
    """One frame's grid; by default every cell holds ink (the model's reading counts)."""
    ink = np.ones(81, bool) if ink is None else ink
    return GridObservation(track_id, DETECTION, probs, ink, 1, visible=visible, established=True)


def _shown(results):
    """The digits shown for the only grid, or None while anything is undecided."""
    if not results:
        return "gone"
    result = results[0]
    if result.reading is None or result.undecided:
        return None
    return result.reading.digit_string


@pytest.mark.parametrize(
    ("sure", "fast_confirm_prob", "frames_to_confirm"),
    [
        # A sure frame whose reading has exactly one solution confirms at once.
        (0.999, 0.7, 1),
        (0.9, 0.7, 1),
        (0.6, 0.7, 5),  # too unsure for the solver's vouching: evidence must pile up
        # Without the solver's vouching, evidence alone: clear frames need two.
        (0.999, 1.0, 2),
        (0.97, 1.0, 2),
        (0.9, 1.0, 3),  # less confident readings need more agreeing frames
        (0.7, 1.0, 4),
    ],
)
def test_confirmation_after_n_agreeing_frames(sure, fast_confirm_prob, frames_to_confirm):
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=fast_confirm_prob))
    shown = [_shown(stabilizer.update([_obs(_probs(TRUTH, sure))])) for _ in range(6)]
    assert shown[: frames_to_confirm - 1] == [None] * (frames_to_confirm - 1)
    assert shown[frames_to_confirm - 1 :] == [PUZZLE] * (7 - frames_to_confirm)


def test_a_sure_reading_with_many_solutions_is_never_shown():
    # Twenty givens fewer: many solutions. A printed puzzle has one, so such a reading has
    # lost givens (misread as empty): it is confirmed cell by cell, but never shown.
    sparse = TRUTH.copy()
    sparse[np.flatnonzero(sparse)[:20]] = 0
    stabilizer = Stabilizer()
    shown = [_shown(stabilizer.update([_obs(_probs(sparse, 0.999))])) for _ in range(8)]
    assert shown == [None] * 8


def test_nothing_is_shown_on_a_grid_in_doubt_and_its_reading_comes_back_after():
    stabilizer = Stabilizer()
    for _ in range(3):
        assert _shown(stabilizer.update([_obs(_probs(TRUTH))])) == PUZZLE
    doubted = GridObservation(0, DETECTION, _probs(TRUTH), np.ones(81, bool), 1, in_doubt=True)
    assert stabilizer.update([doubted]) == []
    assert _shown(stabilizer.update([_obs(_probs(TRUTH))])) == PUZZLE


def test_a_grid_in_doubt_adds_no_evidence():
    # Carried far by flow alone, the outline may lie off the page: cells cut there say
    # nothing of the puzzle. Frames reading another puzzle there neither reset the board
    # nor change its reading: found again, the grid shows it at once (and a grid lost
    # while in doubt leaves its puzzle for recall as it was).
    stabilizer = Stabilizer()
    for _ in range(3):
        stabilizer.update([_obs(_probs(TRUTH))])
    for _ in range(10):
        doubted = GridObservation(0, DETECTION, _probs(OTHER), np.ones(81, bool), 1, in_doubt=True)
        assert stabilizer.update([doubted]) == []
    assert stabilizer.resets == 0
    assert _shown(stabilizer.update([_obs(_probs(TRUTH))])) == PUZZLE


@pytest.mark.parametrize("faint", [True, False])
def test_a_given_the_ink_test_misses_but_that_is_dark_is_never_shown_as_empty(faint):
    # A faint given (red print, dim light) that the ink test does not take: the puzzle
    # without it still has one solution, so no rule can tell. Its cell is dark in the
    # middle (`cells.cells_with_faint_ink`): that frame says nothing of it, and the
    # reading without the given is never confirmed.
    ink = TRUTH > 0
    ink[0] = False  # the "5" of the top-left cell: dropping it keeps one solution
    dropped = TRUTH.copy()
    dropped[0] = 0
    assert solve(dropped, check_unique=True).unique
    dark = np.zeros(81, bool)
    dark[0] = faint
    stabilizer = Stabilizer()
    shown = []
    for _ in range(30):
        frame = GridObservation(0, DETECTION, _probs(TRUTH), ink, 1, faint_ink=dark)
        shown.append(_shown(stabilizer.update([frame])))
    dropped_text = "".join(map(str, dropped))
    if faint:
        assert dropped_text not in shown
    else:
        assert dropped_text in shown  # the lie the faint-ink rule stops


def test_solved_once_per_confirmed_reading():
    stabilizer = Stabilizer()
    for _ in range(20):
        results = stabilizer.update([_obs(_probs(TRUTH))])
    assert results[0].status == "solved"
    assert "".join(map(str, results[0].solution)) == SOLUTION
    assert stabilizer.solves == 1


@pytest.mark.parametrize("misreads_per_frame", [1, 3, 6])
def test_no_flicker_under_noisy_readings(misreads_per_frame):
    rng = np.random.default_rng(misreads_per_frame)
    stabilizer = Stabilizer()
    shown = []
    for _ in range(120):
        cells = rng.choice(81, misreads_per_frame, replace=False)
        probs = _probs(TRUTH, 0.95, misread=cells, rng=rng)
        shown.append(_shown(stabilizer.update([_obs(probs)])))
    first = shown.index(PUZZLE)
    # Every cell shows ink here, so noisy empties (read below contradict_prob) keep single
    # frames from vouching for the reading: the evidence confirms it.
    assert first <= 10
    assert shown[first:] == [PUZZLE] * (120 - first)  # never changes once confirmed


@pytest.mark.parametrize(
    ("contrary_frames", "changed"),
    [
        (3, False),  # a short run of contrary frames is not enough
        (6, False),
        (12, True),  # a sustained one is
    ],
)
def test_retraction_only_under_strong_contrary_evidence(contrary_frames, changed):
    stabilizer = Stabilizer()
    # A misread is confirmed first: cell 0 (a 5) read clearly as a 6 for a while.
    for _ in range(30):
        stabilizer.update([_obs(_probs(TRUTH, misread=[0]))])
    # Then the cell reads as its true 5, clearly.
    for _ in range(contrary_frames):
        results = stabilizer.update([_obs(_probs(TRUTH))])
    # The shown class moved only when the contrary run was long. Before that the solver
    # check could only blank the rule-breaking 6 (a reading without the given 5), which
    # the evidence, reading a 5 there now, does not vouch for: nothing is shown.
    result = results[0]
    moved = result.reading is not None and int(result.reading.digits[0]) == TRUTH[0]
    assert moved == changed
    assert result.reading is None or (_shown(results) == PUZZLE and not result.changed)


def test_a_rule_breaking_change_never_replaces_a_right_reading():
    stabilizer = Stabilizer()
    for _ in range(30):
        stabilizer.update([_obs(_probs(TRUTH))])
    # Cell 0 now reads clearly as a 6 (which breaks a rule) for a long time.
    for _ in range(40):
        results = stabilizer.update([_obs(_probs(TRUTH, misread=[0]))])
    assert _shown(results) == PUZZLE and not results[0].changed


def test_a_different_puzzle_resets_the_board():
    stabilizer = Stabilizer()
    for _ in range(20):
        stabilizer.update([_obs(_probs(TRUTH))])
    shown = [_shown(stabilizer.update([_obs(_probs(OTHER))])) for _ in range(8)]
    assert stabilizer.resets == 1
    assert PUZZLE not in shown  # the old reading is not shown over the new page
    assert shown[-1] == "".join(map(str, OTHER))


def test_overlay_gone_at_once_when_the_grid_is_lost_and_reacquired():
    # Evidence alone (no solver vouching, no memory), so a fresh board needs two frames.
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0, recall_frames=0))
    for _ in range(10):
        stabilizer.update([_obs(_probs(TRUTH))])
    assert stabilizer.update([]) == []  # the tracker lost the grid: nothing shown
    # It comes back as a new track: acquired afresh, within a few frames.
    shown = [_shown(stabilizer.update([_obs(_probs(TRUTH), track_id=1)])) for _ in range(4)]
    assert shown[0] is None and shown[-1] == PUZZLE


def _lose_confirmed_puzzle(settings):
    stabilizer = Stabilizer(settings)
    for _ in range(10):
        stabilizer.update([_obs(_probs(TRUTH))])
    assert stabilizer.update([]) == []
    return stabilizer


def test_a_returning_puzzle_is_recalled_at_once():
    stabilizer = _lose_confirmed_puzzle(StabilizeSettings(fast_confirm_prob=1.0))
    for _ in range(20):
        assert stabilizer.update([]) == []
    # Blurred as it comes back: only half of its givens are read clearly.
    probs = _probs(TRUTH, 0.6)
    clear = np.flatnonzero(TRUTH)[::2]
    probs[clear] = _probs(TRUTH, 0.99)[clear]
    shown = [_shown(stabilizer.update([_obs(probs, track_id=1)])) for _ in range(3)]
    assert shown == [PUZZLE] * 3 and stabilizer.recalls == 1


def test_a_returning_puzzle_blurred_at_first_is_recalled_once_readable():
    stabilizer = _lose_confirmed_puzzle(StabilizeSettings(fast_confirm_prob=1.0))

    def four_rotations(probs):  # a new track's cells come in all four rotations
        vague = np.full((81, 10), 0.1, np.float32)
        ink = np.tile(TRUTH != 0, 4)
        return GridObservation(1, DETECTION, np.concatenate([probs, vague, vague, vague]), ink, 4)

    blurred = _probs(TRUTH, 0.5)  # moving into view: nothing read clearly
    assert _shown(stabilizer.update([four_rotations(blurred)])) is None
    assert _shown(stabilizer.update([four_rotations(_probs(TRUTH, 0.99))])) == PUZZLE
    assert stabilizer.recalls == 1


@pytest.mark.parametrize("contradicted", [False, True])
def test_a_returning_puzzle_read_a_few_digits_a_frame_is_recalled_from_its_frames_together(
    contradicted,
):
    # Moving back into view (a pan), each frame reads only 6 digits clearly, each time
    # others; pooled, 12 distinct cells agree by the third frame. One clear digit read as
    # another in any frame forbids the recall for good (the board then confirms as usual).
    settings = StabilizeSettings(fast_confirm_prob=1.0, recall_frames=300)
    stabilizer = _lose_confirmed_puzzle(settings)
    givens = np.flatnonzero(TRUTH)
    shown = []
    for frame in range(3):
        probs = _probs(TRUTH, 0.6)
        clear = givens[6 * frame : 6 * frame + 6]
        probs[clear] = _probs(TRUTH, 0.99)[clear]
        if contradicted and frame == 0:
            probs[givens[-1]] = _probs(TRUTH, 0.99, misread=[int(givens[-1])])[givens[-1]]
        # A new track's cells come in all four rotations until its board locks one.
        vague = np.full((81, 10), 0.1, np.float32)
        four = np.concatenate([probs, vague, vague, vague])
        observation = GridObservation(1, DETECTION, four, np.tile(TRUTH != 0, 4), 4)
        shown.append(_shown(stabilizer.update([observation])))
    if contradicted:
        assert shown == [None] * 3 and stabilizer.recalls == 0
    else:
        assert shown == [None, PUZZLE, PUZZLE] and stabilizer.recalls == 1


@pytest.mark.parametrize(
    ("case", "frames_away"),
    [
        ("another puzzle", 1),
        ("one clear digit differs", 1),
        ("too few clear digits", 1),
        ("forgotten", 400),
    ],
)
def test_a_returning_grid_is_not_recalled_without_proof(case, frames_away):
    settings = StabilizeSettings(fast_confirm_prob=1.0, recall_frames=300)
    stabilizer = _lose_confirmed_puzzle(settings)
    for _ in range(frames_away):
        stabilizer.update([])
    probs = _probs(TRUTH, 0.99)
    if case == "another puzzle":
        probs = _probs(OTHER, 0.99)
    elif case == "one clear digit differs":
        probs = _probs(TRUTH, 0.99, misread=[int(np.flatnonzero(TRUTH)[0])])
    elif case == "too few clear digits":
        probs = _probs(TRUTH, 0.6)
        clear = np.flatnonzero(TRUTH)[: settings.recall_min_cells - 1]
        probs[clear] = _probs(TRUTH, 0.99)[clear]
    first = _shown(stabilizer.update([_obs(probs, track_id=1)]))
    assert first is None and stabilizer.recalls == 0


def test_a_new_puzzle_under_a_locked_outline_decides_its_orientation_afresh():
    # Puzzle A reads upright in rotation 1 and locks there; the pipeline then cuts only
    # that rotation. Puzzle B replaces it on the same outline, upright in rotation 0.
    vague = np.full((81, 10), 0.1, np.float32)
    ink_a, ink_b = np.tile(TRUTH != 0, 4), np.tile(OTHER != 0, 4)
    a4 = GridObservation(
        0, DETECTION, np.concatenate([vague, _probs(TRUTH), vague, vague]), ink_a, 4
    )
    b4 = GridObservation(
        0, DETECTION, np.concatenate([_probs(OTHER), vague, vague, vague]), ink_b, 4
    )
    b_cut_as_a = GridObservation(0, DETECTION, vague.copy(), np.ones(81, bool), 1)
    b_cut_as_a.probabilities[np.arange(81), np.rot90(OTHER.reshape(9, 9), 1).reshape(81)] = 0.97
    stabilizer = Stabilizer()
    for _ in range(4):
        stabilizer.update([a4])
    assert stabilizer.locked_orientation(0) == 1
    shown = [_shown(stabilizer.update([b_cut_as_a]))]
    assert stabilizer.locked_orientation(0) is None  # in doubt: all four rotations again
    shown += [_shown(stabilizer.update([b_cut_as_a])) for _ in range(2)]
    assert stabilizer.resets == 1 and shown == [None] * 3  # neither A nor B misturned
    assert stabilizer.locked_orientation(0) is None
    for _ in range(3):
        results = stabilizer.update([b4])
    assert _shown(results) == "".join(map(str, OTHER))
    assert stabilizer.locked_orientation(0) == 0
    assert np.allclose(results[0].detection.corners, CORNERS)


def test_cells_out_of_view_keep_their_evidence():
    stabilizer = Stabilizer()
    for _ in range(10):
        stabilizer.update([_obs(_probs(TRUTH))])
    visible = np.ones(81, bool)
    visible[:9] = False  # the top row left the frame: its cells now read as garbage
    for _ in range(30):
        results = stabilizer.update([_obs(_probs(TRUTH, misread=range(9)), visible=visible)])
    assert _shown(results) == PUZZLE


def test_orientation_is_decided_by_the_digits_and_kept():
    # Four rotations: only rotation 1 reads confidently (the others are half-sure guesses).
    upright = _probs(TRUTH, 0.999)
    vague = np.full((81, 10), 0.1, np.float32)
    probs = np.concatenate([vague, upright, vague, vague])
    ink = np.tile(TRUTH != 0, 4)
    obs = GridObservation(0, DETECTION, probs, ink, 4)
    stabilizer = Stabilizer()
    for _ in range(4):
        results = stabilizer.update([obs])
    assert _shown(results) == PUZZLE
    assert np.allclose(results[0].detection.corners, np.roll(CORNERS, -1, axis=0))
    assert stabilizer.locked_orientation(0) == 1
    # Locked: later frames may carry all four rotations or only the locked one.
    only_locked = GridObservation(0, DETECTION, upright, TRUTH != 0, 1)
    for observation in (obs, only_locked, obs, only_locked):
        results = stabilizer.update([observation])
        assert _shown(results) == PUZZLE
    assert np.allclose(results[0].detection.corners, np.roll(CORNERS, -1, axis=0))


def test_several_grids_have_separate_boards():
    stabilizer = Stabilizer()
    for _ in range(5):
        results = stabilizer.update([_obs(_probs(TRUTH), 0), _obs(_probs(OTHER), 1)])
    assert sorted(_shown([r]) for r in results) == sorted([PUZZLE, "".join(map(str, OTHER))])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stabilize.decay=0.0", "decay must be in"),
        ("stabilize.retract_margin=1.0", "retract_margin must be >= confirm_margin"),
        ("stabilize.log_floor=1.0", "log_floor must be < 0"),
        ("tracking.max_grids=0", "max_grids must be in"),
        ("tracking.min_visible_share=0.0", "min_visible_share must be in"),
        ("tracking.corner_gain=1.5", "corner_gain must be in"),
        ("tracking.min_points=2", "min_points must be >= 4"),
        ("tracking.edge_search_every=0", "edge_search_every must be >= 1"),
        ("grid.min_line_score=1.5", "min_line_score must be in"),
        # The tracker's knobs moved out of [stabilize]: an old file is told where.
        ("stabilize.corner_gain=0.3", "'stabilize.corner_gain' is now 'tracking.corner_gain'"),
        ("stabilize.min_track_points=9", "is now 'tracking.min_points'"),
        ("stabilize.confirm=3", "unknown config key 'stabilize.confirm'"),
    ],
)
def test_bad_settings_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_wavering_cells_are_settled_by_the_rules():
    # Two givens waver 50/50 between the true digit and another every frame: evidence
    # alone never decides them, the rules of Sudoku do.
    wavering = [0, 4]  # r1c1 5 and r1c5 7
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    shown = []
    for _ in range(12):
        p = _probs(TRUTH)
        for cell in wavering:
            p[cell] = 0.01
            p[cell, TRUTH[cell]] = 0.45
            p[cell, (TRUTH[cell] % 9) + 1] = 0.45
        shown.append(_shown(stabilizer.update([_obs(p)])))
    assert shown[-1] == PUZZLE


def test_a_digit_hidden_by_blur_does_not_vanish():
    # A confirmed given reads as empty (no ink) for many frames: without it the puzzle
    # would have many solutions, so the reading shown keeps it.
    stabilizer = Stabilizer()
    for _ in range(5):
        stabilizer.update([_obs(_probs(TRUTH))])
    hidden = TRUTH.copy()
    hidden[20] = 0  # without this given the puzzle has several solutions
    for _ in range(60):
        results = stabilizer.update([_obs(_probs(hidden, 0.999))])
    assert _shown(results) == PUZZLE


def test_a_digit_seen_in_half_the_frames_beats_its_absence():
    # Cell 4 (a 7) shows no ink in every other frame (blur); in the rest it reads clearly.
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    for i in range(20):
        ink = TRUTH != 0
        if i % 2:
            ink = ink.copy()
            ink[4] = False
        observation = GridObservation(0, DETECTION, _probs(TRUTH, 0.95), ink, 1)
        results = stabilizer.update([observation])
    assert _shown(results) == PUZZLE


@pytest.mark.parametrize(
    "unsure_class, confirmed_at_once",
    [
        (5, True),  # r1c1 read as its 5, unsurely: rides along with a uniquely solvable frame
        (0, False),  # read as empty, unsurely: could hide a given, so the evidence decides
    ],
)
def test_a_few_unsure_cells_may_ride_along(unsure_class, confirmed_at_once):
    probs = _probs(TRUTH, 0.97)
    probs[0] = 0.05
    probs[0, unsure_class] = 0.5
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_unsure=2))
    shown = _shown(stabilizer.update([_obs(probs)]))
    assert stabilizer._boards[0].cells.decided.all() == confirmed_at_once
    # Shown only once the evidence vouches too: one frame at p = 0.5 does not rule out
    # the cell being empty (a puzzle without that given may have one solution as well).
    assert shown is None
    shown = _shown(stabilizer.update([_obs(_probs(TRUTH, 0.97))]))
    assert shown == (PUZZLE if confirmed_at_once else None)


def _unsure(cells, digits=TRUTH, sure=0.55):
    """Probabilities with `cells` read rightly but unsurely (the runner-up a neighbour)."""
    p = _probs(digits)
    for cell in cells:
        p[cell] = (1 - sure) / 9
        p[cell, digits[cell]] = sure
    return p


def test_a_page_read_unsurely_but_rightly_is_confirmed_on_its_second_frame():
    # Six givens read at 0.55 each frame: too many unsure cells for one frame to vouch,
    # too little lead for the evidence to confirm soon; their leading digits do make a
    # reading with exactly one solution.
    unsure = [int(i) for i in np.flatnonzero(TRUTH)[:6]]
    stabilizer = Stabilizer()
    shown = [_shown(stabilizer.update([_obs(_unsure(unsure))])) for _ in range(3)]
    assert shown == [None, PUZZLE, PUZZLE]


@pytest.mark.parametrize(
    ("empty_prob", "digit_prob", "expected"),
    [
        (0.5, 0.42, None),  # empty leads: the rules never settle a cell as empty
        (0.42, 0.5, None),  # the digit leads, narrowly: the evidence decides
        (0.04, 0.5, PUZZLE),  # the digit leads clearly: the rules may confirm it
    ],
)
def test_a_given_wavering_with_empty_is_settled_only_when_its_digit_leads_clearly(
    empty_prob, digit_prob, expected
):
    # The first given read as empty about as often as itself: without it the puzzle still
    # has exactly one solution, so the rules cannot tell empty from the digit.
    unsure = [int(i) for i in np.flatnonzero(TRUTH)[:6]]
    p = _unsure(unsure)
    p[unsure[0]] = (1 - empty_prob - digit_prob) / 8
    p[unsure[0], 0] = empty_prob
    p[unsure[0], TRUTH[unsure[0]]] = digit_prob
    without = TRUTH.copy()
    without[unsure[0]] = 0
    assert solve(without.astype(np.int8), check_unique=True).unique
    stabilizer = Stabilizer()
    shown = [_shown(stabilizer.update([_obs(p)])) for _ in range(4)]
    assert shown[-1] == expected


def _four_rotations(probs, track_id=0, digits=TRUTH):
    """A grid's cells in all four rotations, upright in the first."""
    vague = np.full((81, 10), 0.1, np.float32)
    ink = np.tile(digits != 0, 4)
    return GridObservation(
        track_id, DETECTION, np.concatenate([probs, vague, vague, vague]), ink, 4
    )


def test_a_board_reset_by_frames_cut_amiss_is_recalled_when_they_agree_again():
    # A grid half out of view is cut amiss for a few frames: they contradict the board,
    # which is reset as for a new puzzle. When the frames agree again, the reading is
    # recalled at once rather than acquired afresh.
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    for _ in range(6):
        stabilizer.update([_four_rotations(_probs(TRUTH))])
    for _ in range(2):
        stabilizer.update([_four_rotations(_probs(OTHER), digits=OTHER)])
    assert stabilizer.resets == 1
    shown = _shown(stabilizer.update([_four_rotations(_probs(TRUTH))]))
    assert shown == PUZZLE and stabilizer.recalls == 1


@pytest.mark.parametrize(("digit_once", "expected"), [(None, PUZZLE), (0.8, None)])
def test_a_marked_empty_cell_is_settled_as_empty_late_unless_once_read_as_a_digit(
    digit_once, expected
):
    # An empty cell with a mark the model reads as empty or as a 3, about half and half:
    # after twice settle_after_frames frames the rules settle it as empty, unless some
    # frame read a digit there surely (then it may be a faint given: the evidence decides).
    cell = int(np.flatnonzero(TRUTH == 0)[0])
    frames = []
    for i in range(12):
        p = _probs(TRUTH)
        p[cell] = 0.01
        p[cell, 0], p[cell, 3] = (0.5, 0.42) if i % 2 else (0.42, 0.5)
        if digit_once is not None and i == 1:
            p[cell] = 0.02
            p[cell, 3] = digit_once
        frames.append(p)
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    shown = [_shown(stabilizer.update([_obs(p)])) for p in frames]
    late = 2 * StabilizeSettings().settle_after_frames
    assert shown[: late - 1] == [None] * (late - 1)
    assert shown[-1] == expected


def test_a_given_read_as_two_wrong_digits_is_never_settled_as_empty():
    # The first given (a 5) read as a 3 or a 7, both breaking its row, with empty far
    # behind: the puzzle without it still has one solution, yet empty is not what the
    # frames say, so the rules leave it to the evidence.
    cell = int(np.flatnonzero(TRUTH)[0])
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    for i in range(16):
        p = _probs(TRUTH)
        p[cell] = 0.01
        p[cell, 0] = 0.1
        p[cell, 3], p[cell, 7] = (0.45, 0.4) if i % 2 else (0.4, 0.45)
        shown = _shown(stabilizer.update([_obs(p)]))
    assert shown is None


def test_a_steady_mark_in_an_empty_cell_is_settled_as_soon_as_it_is_long_seen():
    # A mark read the same way every frame (empty 0.75, a 3 0.2) never builds the
    # confirm margin under decay. The rules refuse empty while the cell is new; the same
    # choice is tried again, and taken, on the frame that makes it long seen.
    cell = int(np.flatnonzero(TRUTH == 0)[0])
    p = _probs(TRUTH)
    p[cell] = 0.05 / 8
    p[cell, 0], p[cell, 3] = 0.75, 0.2
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    shown = [_shown(stabilizer.update([_obs(p)])) for _ in range(12)]
    late = 2 * StabilizeSettings().settle_after_frames
    assert shown[: late - 1] == [None] * (late - 1)
    assert shown[late - 1 :] == [PUZZLE] * (12 - late + 1)


def test_a_reading_without_solution_is_never_shown_by_default():
    # In video a confirmed reading that breaks the rules is nearly always a misread (a
    # blurred page read with three 8s in a row): "reading..." is the honest answer.
    clash = np.roll(TRUTH, 1)
    stabilizer = Stabilizer()
    statuses = [stabilizer.update([_obs(_probs(clash))])[0].status for _ in range(12)]
    assert statuses == ["pending"] * 12


@pytest.mark.parametrize("frames_standing", [2, 7])
def test_a_reading_without_solution_is_shown_if_asked_only_once_it_has_stood(frames_standing):
    # A grid cut amiss as it comes into view reads as confident nonsense (here: the
    # givens cut one cell off, down the rows, breaking the rules beyond repair). With
    # show_unsolvable it is not shown at once; if the frames keep reading it, it is shown,
    # as unsolvable, after unsolvable_after_frames frames.
    clash = np.roll(TRUTH, 1)
    stabilizer = Stabilizer(StabilizeSettings(show_unsolvable=True))
    hold = StabilizeSettings().unsolvable_after_frames
    statuses = []
    for _ in range(frames_standing):
        result = stabilizer.update([_obs(_probs(clash))])[0]
        statuses.append(result.status)
    # Confirmed on its second frame (two clear frames), shown on its hold-th frame after.
    assert statuses[:hold] == ["pending"] * min(hold, frames_standing)
    assert statuses[hold:] == ["invalid"] * max(0, frames_standing - hold)


def _misread_keeping_one_solution():
    """A given and another digit that, read in its place, still leave one solution."""
    for cell in np.flatnonzero(TRUTH):
        for digit in range(1, 10):
            misread = TRUTH.copy()
            misread[cell] = digit
            if digit != TRUTH[cell] and not find_conflicts(misread):
                if solve(misread.astype(np.int8), check_unique=True).unique:
                    return int(cell), digit, misread
    raise AssertionError("no such misread in the test puzzle")


def test_a_misread_given_that_keeps_one_solution_is_not_confirmed_by_the_rules():
    # A given read rightly in the first frame, then misread unsurely as a digit with which
    # the puzzle still has exactly one solution: neither one frame's solver check nor the
    # rules may confirm the misreading; the evidence must.
    cell, digit, misread = _misread_keeping_one_solution()
    # The first frame is too unsure in three other cells to confirm anything at once.
    others = [int(i) for i in np.flatnonzero(TRUTH) if i != cell][:3]
    first = _unsure(others)
    first[cell] = 0.45 / 9
    first[cell, TRUTH[cell]] = 0.55
    later = _probs(TRUTH)
    later[cell] = 0.12 / 8
    later[cell, digit], later[cell, TRUTH[cell]] = 0.8, 0.08
    stabilizer = Stabilizer()
    shown = [_shown(stabilizer.update([_obs(p)])) for p in [first] + [later] * 5]
    wrong = "".join(str(int(d)) for d in misread)
    assert wrong not in shown


@pytest.mark.parametrize(
    "misread_p, own_p",
    [
        # Read as a digit that keeps one solution and as itself about equally: the frame
        # does not say which, so its solver check cannot vouch for the reading.
        (0.34, 0.33),
        # A blurred given read as another digit at 0.49, its own digit the runner-up at half
        # that: a reading not even more likely than all the others together may not ride
        # along with the solver's check either.
        (0.49, 0.24),
    ],
)
def test_a_first_frame_misreading_a_given_unsurely_is_not_confirmed_at_once(misread_p, own_p):
    # Everything read surely but one given; the puzzle has one solution either way.
    cell, digit, _ = _misread_keeping_one_solution()
    p = _probs(TRUTH)
    p[cell] = (1 - misread_p - own_p) / 8
    p[cell, digit], p[cell, TRUTH[cell]] = misread_p, own_p
    shown = _shown(Stabilizer().update([_obs(p)]))
    assert shown is None


def test_a_wavering_given_is_settled_as_soon_as_its_lead_over_empty_suffices():
    # A given read as itself (0.7) or as empty (0.2), frame after frame, that the puzzle
    # could do without: the rules settle it once its lead over empty reaches
    # settle_empty_margin (on the 5th frame), not only when something else changes.
    cell = next(
        int(c)
        for c in np.flatnonzero(TRUTH)
        if solve(np.where(np.arange(81) == c, 0, TRUTH).astype(np.int8), check_unique=True).unique
    )
    p = _probs(TRUTH)
    p[cell] = 0.1 / 8
    p[cell, TRUTH[cell]], p[cell, 0] = 0.7, 0.2
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    shown = [_shown(stabilizer.update([_obs(p)])) for _ in range(6)]
    assert shown[:4] == [None] * 4
    assert shown[4:] == [PUZZLE, PUZZLE]


def test_a_given_torn_between_two_digits_that_both_pass_is_left_to_the_evidence():
    # A small, dim given read as itself or as a digit that also leaves one solution,
    # never surely (0.31 / 0.30, frame after frame): the rules cannot choose between the
    # two and must not settle the cell on a coin flip.
    cell, digit, misread = _misread_keeping_one_solution()
    p = _probs(TRUTH)
    p[cell] = 0.39 / 8
    p[cell, digit], p[cell, TRUTH[cell]] = 0.31, 0.30
    stabilizer = Stabilizer()
    shown = [_shown(stabilizer.update([_obs(p)])) for _ in range(8)]
    assert "".join(str(int(d)) for d in misread) not in shown


@pytest.mark.parametrize("remembered", [True, False])
def test_a_returning_puzzle_is_shown_on_the_first_search_that_finds_it_again(remembered):
    # A grid found by one search only is not shown (the tracker has not established it):
    # one stray outline must not put a reading on screen. A grid whose cells read as a
    # puzzle lost a moment ago is where that puzzle is: shown at once.
    settings = StabilizeSettings(fast_confirm_prob=1.0, recall_frames=300 if remembered else 0)
    stabilizer = _lose_confirmed_puzzle(settings)
    new_grid = GridObservation(1, DETECTION, _probs(TRUTH, 0.99), TRUTH != 0, 1, established=False)
    shown = _shown(stabilizer.update([new_grid]))
    assert shown == (PUZZLE if remembered else "gone")
    assert stabilizer.recalls == int(remembered)
    # Another puzzle found by one search: nothing shown, remembered or not.
    other = GridObservation(2, DETECTION, _probs(OTHER, 0.99), OTHER != 0, 1, established=False)
    assert stabilizer.update([other]) == []


def _misread_pair(puzzle: str, misreads: dict[int, int]) -> tuple[np.ndarray, str]:
    """The digits of `puzzle`, and the reading with `misreads` (cell: digit) in it, which
    must still have exactly one solution: the lie the rules could be led to confirm."""
    truth = np.array([int(c) for c in puzzle], np.int64)
    wrong = truth.copy()
    wrong[list(misreads)] = list(misreads.values())
    assert solve(wrong.astype(np.int8), check_unique=True).unique
    return truth, "".join(str(int(d)) for d in wrong)


def _shown_only_unguarded(shown: set, puzzle: str, lie: str, guarded: bool) -> None:
    """The lie is shown without the guard under test and never with it; nothing else but
    the puzzle, or nothing, is ever shown."""
    assert (lie in shown) != guarded
    assert shown <= {None, puzzle, lie}


# A real page (validation image1) filmed dim and blurred: the board left its r1c8 (an 8
# read as 8 mostly, sometimes 6) and r5c4 (a 2 read as 8 or 1, and once as 2 at p = 0.46)
# undecided, with a third given wavering. An 8 in r5c4 clashes with its column, and 8
# with 1 leaves several solutions, but 6 with 1 leaves exactly one: the rules would pick
# that pair, two misread givens that each single-cell check lets through. 8 with 2 (the
# page) passes too, so the rules cannot choose.
IMAGE1 = "000700080090003100006805070020600049000200050008040007000900030370000006105004000"


@pytest.mark.parametrize("guarded", [True, False])
def test_cells_are_not_settled_together_where_another_combination_passes_too(monkeypatch, guarded):
    import streamocr.stabilize as stabilize

    if not guarded:  # the scenario is real: without the joint check the wrong pair is shown
        monkeypatch.setattr(stabilize, "passes_otherwise", lambda *args: False)
    truth, lie = _misread_pair(IMAGE1, {7: 6, 39: 1})
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    shown = set()
    for frame in range(20):
        p = _probs(truth)
        p[7] = 0.21 / 8
        p[7, 8], p[7, 6] = 0.6, 0.19  # the 8 leads by about 7 nats after 20 frames
        p[39] = 0.1 / 7
        p[39, 8], p[39, 1], p[39, 2] = 0.45, 0.3, 0.15
        if frame == 0:  # its true 2 read fairly surely once
            p[39, 8], p[39, 1], p[39, 2] = 0.4, 0.05, 0.46
        p[3] = 0.1 / 8
        p[3, 7], p[3, 1] = 0.5, 0.4  # wavering close: the rules may choose
        shown.add(_shown(stabilizer.update([_obs(p)])))
    _shown_only_unguarded(shown, IMAGE1, lie, guarded)


def test_a_confirmed_reading_the_solver_must_repair_in_several_cells_is_not_shown():
    # Two givens read wrongly, steadily (5 as 6, 7 as 8), each clashing with its column:
    # the solver can repair the reading, but a reading with several misreads confirmed
    # may hold more, and so may the repair. Nothing is shown until the evidence agrees.
    stabilizer = Stabilizer()
    shown = []
    for _ in range(20):
        p = _probs(TRUTH)
        for cell, misread in ((0, 6), (4, 8)):
            p[cell] = 0.005 / 8
            p[cell, misread], p[cell, TRUTH[cell]] = 0.95, 0.045
        shown.append(_shown(stabilizer.update([_obs(p)])))
    board = stabilizer._boards[0]
    assert board.cells.decided.all()
    assert len(stabilizer._check(board.cells).changed) == 2  # repairable, in two cells
    assert shown == [None] * 20


# A real page (validation image43) filmed small at 540 lines: r2c2 (a 2) led by a 3, and
# r7c9 (a 2) wavering between 1, 3 and 8 with the 1 ahead, its 2 fourth. 3 with 1 leaves
# exactly one solution, and neither right digit passes beside the other's misread, so each
# single-cell check lets the pair through; the rules settled it early, with five more
# unsure cells, and the wrong puzzle and its solution were drawn for 26 frames (with a
# search on every frame while nothing is followed).
IMAGE43 = "700000000021405080000029006012306090840000500000050000900003002000000708060010400"


@pytest.mark.parametrize("guarded", [True, False])
def test_cells_wavering_between_digits_are_not_settled_early_by_the_rules(monkeypatch, guarded):
    import streamocr.stabilize as stabilize

    if not guarded:  # the scenario is real: without the lead test the wrong pair is shown
        monkeypatch.setattr(stabilize, "_SETTLE_LEAD", 0.0)
    truth, lie = _misread_pair(IMAGE43, {10: 3, 62: 1})
    unsure = [int(i) for i in np.flatnonzero(truth)[:5]]
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    shown = set()
    for _ in range(3):  # seven cells undecided: the rules may only settle them early
        p = _unsure(unsure, digits=truth)
        p[10] = 0.1 / 8
        p[10, 3], p[10, 2] = 0.5, 0.4
        p[62] = 0.08 / 6
        p[62, 1], p[62, 3], p[62, 8], p[62, 2] = 0.28, 0.26, 0.24, 0.14
        shown.add(_shown(stabilizer.update([_obs(p, ink=truth != 0)])))
    _shown_only_unguarded(shown, IMAGE43, lie, guarded)


# Printed footage (held-out X, hard_s3303_720p, searched every frame while nothing is
# followed): r6c7 (an 8) read as a 3 over a run of frames and confirmed; later r2c8 (an
# 8, leading clearly on the evidence, a 6 behind) was the last cell left, the 8 clashed
# with the confirmed 3's consequences and the rules chose the 6: both misreads together
# have one solution, and the wrong puzzle was drawn for 18 frames.
PRINTED_X = "000000090010075080300000700070408000004090020000000800207080019000001000009520030"


@pytest.mark.parametrize("guarded", [True, False])
def test_the_rules_never_overrule_a_clear_lead_on_the_evidence(monkeypatch, guarded):
    import streamocr.stabilize as stabilize

    if not guarded:  # the scenario is real: without the test the wrong pair is shown
        monkeypatch.setattr(stabilize, "_SETTLE_OVERRULE", np.inf)
    truth, lie = _misread_pair(PRINTED_X, {16: 6, 51: 3})
    stabilizer = Stabilizer(StabilizeSettings(fast_confirm_prob=1.0))
    shown = set()
    for _ in range(8):
        p = _probs(truth)
        p[51] = 0.03 / 9
        p[51, 3] = 0.97  # misread surely, every frame
        p[16] = 0.05 / 8
        p[16, 8], p[16, 6] = 0.75, 0.2  # the 8 leads clearly, the 6 second
        shown.add(_shown(stabilizer.update([_obs(p, ink=truth != 0)])))
    _shown_only_unguarded(shown, PRINTED_X, lie, guarded)
