"""The solver: solutions, rule checks, unsolvable readings, a bounded search."""

import numpy as np
import pytest

from streamocr.solve import find_conflicts, solve
from streamocr.synth.builders import PUZZLE, SOLUTION

HARD = "800000000003600000070090200050007000000045700000100030001000068008500010090000400"


@pytest.mark.parametrize(
    "puzzle, status",
    [
        (PUZZLE, "solved"),
        (HARD, "solved"),  # a famously hard puzzle: needs deep search
        ("0" * 81, "solved"),  # no givens: any valid grid
        ("55" + "0" * 79, "invalid"),  # two 5s in the first row
        ("5" + "0" * 8 + "5" + "0" * 71, "invalid"),  # two 5s in the first column
        # Valid givens but no solution: r1c9 cannot take any digit.
        ("12345678" + "0" * 9 + "9" + "0" * 63, "unsolvable"),
    ],
)
def test_status(puzzle, status):
    assert solve(puzzle).status == status


def test_known_solution_and_uniqueness():
    result = solve(PUZZLE, check_unique=True)
    assert "".join(map(str, result.solution)) == SOLUTION
    assert result.unique is True
    assert solve("0" * 81, check_unique=True).unique is False


def test_solution_respects_givens_and_rules():
    result = solve(HARD)
    grid = result.solution.reshape(9, 9)
    givens = np.array([int(c) for c in HARD]).reshape(9, 9)
    assert np.all((givens == 0) | (grid == givens))
    for i in range(9):
        assert sorted(grid[i]) == list(range(1, 10))
        assert sorted(grid[:, i]) == list(range(1, 10))
        box = grid[(i // 3) * 3 : (i // 3) * 3 + 3, (i % 3) * 3 : (i % 3) * 3 + 3]
        assert sorted(box.ravel()) == list(range(1, 10))


def test_conflicts_name_both_cells():
    digits = np.zeros(81, int)
    digits[0] = digits[10] = 7  # same box
    assert find_conflicts(digits) == (0, 10)


def test_search_budget_stops_a_long_search():
    assert solve(HARD, max_steps=10).status == "gave_up"


def test_rejects_out_of_range():
    with pytest.raises(ValueError):
        solve(np.full(81, 12))
