"""Using the solver as a check: repairing a reading that breaks the rules.

A misread digit usually shows up as a rule conflict or as a grid with no solution. Then the
most likely consistent alternative is searched: cells are changed to their next most
probable class, cheapest changes first (by lost log-probability), until the grid solves.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import numpy as np

from .solve import SolveResult, find_conflicts, solve
from .types import Reading

_EPS = 1e-6
FILLED_PAGE_CELLS = 64  # a reading with this many digits is a page filled in by hand


@dataclass(frozen=True)
class CheckedReading:
    """A reading after the solver's check.

    Attributes:
        reading: the reading shown (repaired when `changed` is not empty).
        result: the solver's result for it.
        changed: cells whose class was changed by the repair.
        doubtful: cells whose confidence is below the doubt threshold.
    """

    reading: Reading
    result: SolveResult
    changed: tuple[int, ...] = ()
    doubtful: tuple[int, ...] = ()


def uniquely_solvable(digits: np.ndarray) -> bool:
    """Whether a reading has exactly one solution."""
    result = solve(digits.astype(np.int8), check_unique=True, max_steps=20_000)
    return result.status == "solved" and bool(result.unique)


def valid_unique(digits: np.ndarray) -> bool:
    """Whether a reading keeps the rules and has exactly one solution."""
    return not find_conflicts(digits) and uniquely_solvable(digits)


def passes_with(digits: np.ndarray, cell: int, value: int) -> bool:
    """Whether `digits` with `cell` set to `value` keeps the rules and has one solution."""
    other = digits.copy()
    other[cell] = value
    return valid_unique(other)


def passes_otherwise(digits: np.ndarray, cells: np.ndarray, candidates: list[list[int]]) -> bool:
    """Whether `digits` with `cells` set to another combination of their `candidates` (a
    list of classes per cell) keeps the rules and has one solution too (`passes_with` of
    several cells at once)."""
    chosen = tuple(int(d) for d in digits[cells])
    trial = digits.copy()
    for combination in itertools.product(*candidates):
        if combination == chosen:
            continue
        trial[cells] = combination
        if valid_unique(trial):
            return True
    return False


def ambiguous_cell(digits: np.ndarray, solution: np.ndarray, close: np.ndarray) -> int | None:
    """A cell whose other plausible reading would pass as well, or None.

    `digits` (with exactly one solution, `solution`) is the reading to vouch for; `close`
    (bool, 81 x 10) marks, per cell, the other classes its evidence does not rule out. A
    unique solution is weak evidence: a given dropped or swapped for another digit often
    leaves a puzzle with exactly one solution too. For an empty cell only its solution's
    digit can pass (any other clashes with the one solution); for a given, its other
    classes are solved.
    """
    shown = digits.astype(np.int64)
    for cell in np.flatnonzero(close.any(axis=1)):
        if shown[cell] == 0:
            if close[cell, solution[cell]]:
                return int(cell)
            continue
        for other in np.flatnonzero(close[cell]):
            if other != shown[cell] and passes_with(shown, int(cell), int(other)):
                return int(cell)
    return None


def unvouched(checked: CheckedReading, margin: float) -> tuple[int, ...] | None:
    """Why one image's solution cannot be vouched for, or None when it can.

    The reading must have exactly one solution, and no given another digit within
    `margin` nats of its own (log-probability) with which the puzzle would pass as well
    (`ambiguous_cell`): that reading's one solution would differ. A given that might be
    empty, or an empty cell that might hold its solution's digit, leaves the solution as
    it is, so neither withholds it (the video's stabiliser, with many frames of evidence,
    holds back those readings too).

    Returns:
        None: vouched for; () : the solution is not unique; else the ambiguous cell.
    """
    reading, solution = checked.reading, checked.result.solution
    if solution is None or not uniquely_solvable(reading.digits):
        return ()
    rows = np.arange(81)
    digits = reading.digits.astype(np.int64)
    logp = np.log(reading.probabilities.astype(np.float64) + _EPS)
    close = logp >= (logp[rows, digits] - margin)[:, None]
    close[rows, digits] = False
    close[:, 0] = False
    close[digits == 0] = False
    cell = ambiguous_cell(digits, solution, close)
    return None if cell is None else (cell,)


def _with_digits(reading: Reading, digits: np.ndarray) -> Reading:
    confidence = reading.probabilities[np.arange(81), digits].astype(np.float32)
    return Reading(
        digits=digits.astype(np.int8), confidence=confidence, probabilities=reading.probabilities
    )


def check_reading(
    reading: Reading,
    doubt_below: float = 0.6,
    max_changes: int = 3,
    max_candidates: int = 400,
    suspects: int = 12,
    max_cost: float = 7.0,
) -> CheckedReading:
    """Solve a reading; when it breaks the rules or has no solution, repair it if a cheap
    consistent alternative exists.

    Args:
        reading: the model's reading.
        doubt_below: cells less confident than this are reported as doubtful.
        max_changes: most cells one repair may change.
        max_candidates: most alternative readings tried (each costs one bounded solve).
        suspects: how many of the least confident cells (plus all conflicting cells) may change.
        max_cost: most log-probability a repair may lose (7: all changes together at least
            a thousandth as likely as the reading).
    """
    doubtful = tuple(int(i) for i in np.flatnonzero(reading.confidence < doubt_below))
    result = solve(reading.digits, max_steps=50_000)
    digits = reading.digits.astype(np.int64)
    order = np.argsort(reading.confidence)
    if result.status == "solved":
        return _fill_missed(CheckedReading(reading, result, (), doubtful))

    logp = np.log(reading.probabilities + _EPS)
    base = logp[np.arange(81), digits]
    conflicts = set(find_conflicts(digits))
    cells = list(dict.fromkeys([*conflicts, *[int(i) for i in order[:suspects]]]))
    # Each cell's alternatives and their cost in lost log-probability.
    options: list[tuple[float, int, int]] = []
    for i in cells:
        for cls in np.argsort(-logp[i])[:4]:
            if cls != digits[i]:
                options.append((float(base[i] - logp[i, cls]), i, int(cls)))
    options.sort()
    options = options[:24]
    heap: list[tuple[float, tuple[int, ...]]] = []
    for k in range(1, max_changes + 1):
        for combo in itertools.combinations(range(len(options)), k):
            picked = [options[j] for j in combo]
            if len({i for _, i, _ in picked}) < k:
                continue
            heapq.heappush(heap, (sum(c for c, _, _ in picked), combo))
    # A published puzzle has exactly one solution: the cheapest repair with one solution
    # wins; the cheapest merely solvable one is kept in case none has.
    tried = 0
    fallback: tuple[np.ndarray, SolveResult, tuple[int, ...]] | None = None
    while heap and tried < max_candidates:
        cost, combo = heapq.heappop(heap)
        if cost > max_cost:
            break  # what is left would be a guess, not a repair
        candidate = digits.copy()
        for j in combo:
            _, i, cls = options[j]
            candidate[i] = cls
        if find_conflicts(candidate):
            continue
        tried += 1
        fixed = solve(candidate, check_unique=True, max_steps=20_000)
        if fixed.status != "solved":
            continue
        changed = tuple(sorted(options[j][1] for j in combo))
        if fixed.unique:
            fallback = (candidate, fixed, changed)
            break
        if fallback is None:
            fallback = (candidate, fixed, changed)
    if fallback is not None:
        return _repaired(reading, *fallback, doubtful)
    blanked = _blank_and_solve(reading, digits, conflicts, order)
    if blanked is not None:
        candidate, fixed = blanked
        changed = tuple(int(i) for i in np.flatnonzero(candidate != digits))
        return _repaired(reading, candidate, fixed, changed, doubtful)
    return CheckedReading(reading, result, (), tuple(sorted(set(doubtful) | conflicts)))


def _repaired(
    reading: Reading,
    candidate: np.ndarray,
    result: SolveResult,
    changed: tuple[int, ...],
    doubtful: tuple[int, ...],
) -> CheckedReading:
    """The checked reading of a repair: changed cells are doubtful too."""
    checked = CheckedReading(
        _with_digits(reading, candidate),
        result,
        changed,
        tuple(sorted(set(doubtful) | set(changed))),
    )
    return _fill_missed(checked)


def _fill_missed(checked: CheckedReading) -> CheckedReading:
    """On a page filled in by hand, an inked cell read as empty is a digit the model missed:
    the (solved) grid says which."""
    reading = checked.reading
    digits = reading.digits.astype(np.int64)
    solution = checked.result.solution
    if (
        checked.result.status != "solved"
        or solution is None
        or np.count_nonzero(digits) < FILLED_PAGE_CELLS
    ):
        return checked
    missed = np.flatnonzero((digits == 0) & (reading.probabilities[:, 0] < 0.999))
    if missed.size == 0:
        return checked
    digits[missed] = solution[missed]
    changed = tuple(sorted(set(checked.changed) | {int(i) for i in missed}))
    return CheckedReading(
        _with_digits(reading, digits),
        checked.result,
        changed,
        tuple(sorted(set(checked.doubtful) | set(changed))),
    )


def _blank_and_solve(
    reading: Reading,
    digits: np.ndarray,
    conflicts: set[int],
    order: np.ndarray,
    unsure_below: float = 0.9,
    most: int = 12,
) -> tuple[np.ndarray, SolveResult] | None:
    """Read the doubtful cells from the rest of the grid.

    Misreadings too many or too confident for the search above (typical on a page filled
    in by hand, where all 81 cells hold ink) still leave most cells right. Blanking the
    conflicting and unsure cells and solving what remains gives, when that solution is
    unique, the digit each blanked cell must hold; each takes that digit or stays empty,
    whichever the model finds likelier (on a hand-filled page, the digit).
    """
    unsure = [int(i) for i in order if reading.confidence[i] < unsure_below and digits[i] != 0]
    blank = list(dict.fromkeys([*sorted(conflicts), *unsure]))[:most]
    if not blank:
        return None
    puzzle = digits.copy()
    puzzle[blank] = 0
    if find_conflicts(puzzle):
        return None
    solved = solve(puzzle, check_unique=True, max_steps=50_000)
    if solved.status != "solved" or solved.solution is None or not solved.unique:
        return None
    candidate = puzzle.copy()
    probs = reading.probabilities
    # On a page filled in by hand every cell holds a digit; on a printed puzzle a blanked
    # cell may have been a speck read as a digit, so the model decides digit or empty.
    filled_page = np.count_nonzero(digits) >= FILLED_PAGE_CELLS
    for i in blank:
        d = int(solved.solution[i])
        candidate[i] = d if filled_page or probs[i, d] >= probs[i, 0] else 0
    final = solve(candidate, max_steps=50_000)
    return (candidate, final) if final.status == "solved" else None
