"""The Sudoku solver: rule checks and an exact bitmask search with a hard step budget."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .types import Status

_ALL = 0x3FE  # bits 1..9
_BOX = [(r // 3) * 3 + c // 3 for r in range(9) for c in range(9)]
_POPCOUNT = [bin(m).count("1") for m in range(1024)]


@dataclass(frozen=True)
class SolveResult:
    """The outcome of solving one grid.

    Attributes:
        status: SOLVED, INVALID (the givens break a rule), UNSOLVABLE (no solution), or
            GAVE_UP (the step budget ran out, which valid newspaper puzzles never hit).
        solution: int8 (81,) when solved, else None.
        conflicts: indices of given cells that break a rule (row, column or box duplicate).
        unique: whether the solution is the only one (checked when `check_unique`).
    """

    status: Status
    solution: np.ndarray | None
    conflicts: tuple[int, ...] = ()
    unique: bool | None = None


def find_conflicts(digits: np.ndarray) -> tuple[int, ...]:
    """Return the indices of non-empty cells that share a digit with a peer."""
    grid = np.asarray(digits, dtype=np.int64).reshape(81)
    bad: set[int] = set()
    groups = [[r * 9 + c for c in range(9)] for r in range(9)]
    groups += [[r * 9 + c for r in range(9)] for c in range(9)]
    groups += [[i for i in range(81) if _BOX[i] == b] for b in range(9)]
    for group in groups:
        seen: dict[int, int] = {}
        for i in group:
            d = int(grid[i])
            if d == 0:
                continue
            if d in seen:
                bad.update((i, seen[d]))
            else:
                seen[d] = i
    return tuple(sorted(bad))


def solve(
    digits: np.ndarray | str, check_unique: bool = False, max_steps: int = 200_000
) -> SolveResult:
    """Solve a Sudoku given as 81 digits (0 = empty).

    Uses bitmask candidates with the most-constrained-cell heuristic. The search stops after
    `max_steps` assignments, so a bad reading can never hang the caller.

    Example:
        >>> solve("0" * 81).status
        <Status.SOLVED: 'solved'>
    """
    if isinstance(digits, str):
        digits = np.array([int(ch) for ch in digits], dtype=np.int8)
    grid = [int(d) for d in np.asarray(digits).reshape(81)]
    if any(d < 0 or d > 9 for d in grid):
        raise ValueError("digits must be in 0..9")
    conflicts = find_conflicts(np.array(grid))
    if conflicts:
        return SolveResult(Status.INVALID, None, conflicts)

    rows = [0] * 9
    cols = [0] * 9
    boxes = [0] * 9
    for i, d in enumerate(grid):
        if d:
            bit = 1 << d
            rows[i // 9] |= bit
            cols[i % 9] |= bit
            boxes[_BOX[i]] |= bit
    empties = [i for i, d in enumerate(grid) if d == 0]
    solutions: list[list[int]] = []
    steps = 0
    want = 2 if check_unique else 1

    def search() -> bool:
        nonlocal steps
        best_i, best_mask, best_n = -1, 0, 10
        for i in empties:
            if grid[i]:
                continue
            mask = _ALL & ~(rows[i // 9] | cols[i % 9] | boxes[_BOX[i]])
            n = _POPCOUNT[mask]
            if n < best_n:
                best_i, best_mask, best_n = i, mask, n
                if n <= 1:
                    break
        if best_i < 0:
            solutions.append(list(grid))
            return len(solutions) >= want
        if best_n == 0:
            return False
        r, c, b = best_i // 9, best_i % 9, _BOX[best_i]
        mask = best_mask
        while mask:
            bit = mask & -mask
            mask ^= bit
            steps += 1
            if steps > max_steps:
                raise _GaveUp
            grid[best_i] = bit.bit_length() - 1
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
            done = search()
            rows[r] ^= bit
            cols[c] ^= bit
            boxes[b] ^= bit
            grid[best_i] = 0
            if done:
                return True
        return False

    try:
        search()
    except _GaveUp:
        if solutions:
            return SolveResult(Status.SOLVED, np.array(solutions[0], dtype=np.int8), unique=None)
        return SolveResult(Status.GAVE_UP, None)
    if not solutions:
        return SolveResult(Status.UNSOLVABLE, None)
    unique = (len(solutions) == 1) if check_unique else None
    return SolveResult(Status.SOLVED, np.array(solutions[0], dtype=np.int8), unique=unique)


class _GaveUp(Exception):
    pass
