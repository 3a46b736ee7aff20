"""The solver as a check: rule-breaking readings are repaired, doubt is reported."""

import numpy as np
import pytest

from streamocr.consistency import check_reading, unvouched
from streamocr.reader import VOUCH_MARGIN, interpret_cells
from streamocr.synth.builders import PUZZLE, SOLUTION
from streamocr.types import GridDetection, Reading, Status


def _reading(digits: str, overrides: dict[int, dict[int, float]] | None = None) -> Reading:
    """A reading sure of `digits` except the cells in `overrides` ({cell: {class: p}})."""
    d = np.array([int(c) for c in digits])
    probs = np.full((81, 10), 1e-4, np.float32)
    probs[np.arange(81), d] = 0.999
    for cell, classes in (overrides or {}).items():
        probs[cell] = 1e-4
        for cls, p in classes.items():
            probs[cell, cls] = p
    digits_read = probs.argmax(axis=1).astype(np.int8)
    return Reading(digits_read, probs[np.arange(81), digits_read], probs)


def _text(digits) -> str:
    return "".join(str(int(v)) for v in digits)


@pytest.mark.parametrize(
    "base, overrides, expect_digits, expect_changed",
    [
        # Right already: nothing changes.
        (PUZZLE, {}, PUZZLE, ()),
        # r1c1 5 read as 3 (clashes with r1c2); the model's second choice is right.
        (PUZZLE, {0: {3: 0.55, 5: 0.44}}, PUZZLE, (0,)),
        # A speck read as a 7 in an empty cell (clashes with r1c5): empty is second choice.
        (PUZZLE, {2: {7: 0.6, 0: 0.39}}, PUZZLE, (2,)),
        # A filled page, a confident misread (r1c1 5 as 6): the rest of the grid decides.
        (SOLUTION, {0: {6: 0.97, 5: 0.001}}, SOLUTION, (0,)),
        # A filled page, an inked cell the model called empty: the grid says which digit.
        (SOLUTION, {40: {0: 0.9, 5: 0.05}}, SOLUTION, (40,)),
    ],
)
def test_repairs(base, overrides, expect_digits, expect_changed):
    checked = check_reading(_reading(base, overrides))
    assert checked.result.status == "solved"
    assert _text(checked.reading.digits) == expect_digits
    assert checked.changed == expect_changed
    assert set(expect_changed) <= set(checked.doubtful)
    assert _text(checked.result.solution) == SOLUTION


def test_unrepairable_reading_is_reported_not_guessed():
    # Two sure 5s in one row, no plausible alternative: left as read, both cells doubtful.
    digits = "55" + "0" * 79
    checked = check_reading(_reading(digits))
    assert checked.result.status == "invalid"
    assert _text(checked.reading.digits) == digits
    assert {0, 1} <= set(checked.doubtful)


def test_low_confidence_is_flagged():
    checked = check_reading(_reading(PUZZLE, {4: {7: 0.5, 1: 0.3, 0: 0.2}}))
    assert checked.result.status == "solved" and 4 in checked.doubtful


# PUZZLE's given in cell 25 is a 6; read as a 5 the puzzle still has exactly one solution
# (a different one): a misread a unique solution does not give away.
_SWAPPABLE, _SWAPPED_TO = 25, 5


def test_a_given_that_might_be_another_digit_that_also_passes_withholds_the_solution():
    assert PUZZLE[_SWAPPABLE] == "6"
    sure = check_reading(_reading(PUZZLE))
    assert unvouched(sure, VOUCH_MARGIN) is None  # read surely: vouched for
    torn = check_reading(_reading(PUZZLE, {_SWAPPABLE: {6: 0.7, _SWAPPED_TO: 0.3}}))
    assert torn.result.status == "solved"
    assert unvouched(torn, VOUCH_MARGIN) == (_SWAPPABLE,)
    # Far less likely than the digit read (under 5%), the other digit does not count.
    leaning = check_reading(_reading(PUZZLE, {_SWAPPABLE: {6: 0.98, _SWAPPED_TO: 0.02}}))
    assert unvouched(leaning, VOUCH_MARGIN) is None


def test_doubt_that_leaves_the_solution_as_it_is_does_not_withhold_it():
    # A given that might be empty, or an empty cell that might hold its solution's digit:
    # either way the one solution is the same.
    given = int(np.flatnonzero(np.array(list(PUZZLE)) != "0")[0])
    empty = PUZZLE.index("0")
    checked = check_reading(
        _reading(
            PUZZLE,
            {
                given: {int(PUZZLE[given]): 0.55, 0: 0.45},
                empty: {0: 0.6, int(SOLUTION[empty]): 0.4},
            },
        )
    )
    assert checked.result.status == "solved"
    assert unvouched(checked, VOUCH_MARGIN) is None


def test_one_image_whose_misread_would_pass_is_unsure_with_no_solution():

    reading = _reading(PUZZLE, {_SWAPPABLE: {6: 0.6, _SWAPPED_TO: 0.4}})
    corners = np.array([[0, 0], [90, 0], [90, 90], [0, 90]], np.float32)
    detection = GridDetection(corners, np.eye(3), 90, 1.0)
    result = interpret_cells(detection, np.ones(81, bool), 1, reading.probabilities)
    assert result.status == Status.UNSURE and result.solution is None
    assert _text(result.reading.digits) == PUZZLE
    assert _SWAPPABLE in result.doubtful
