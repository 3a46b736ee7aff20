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
) -> CheckedReading:
    """Solve a reading; when it breaks the rules or has no solution, repair it if a cheap
    consistent alternative exists.

    Args:
        reading: the model's reading.
        doubt_below: cells less confident than this are reported as doubtful.
        max_changes: most cells one repair may change.
        max_candidates: most alternative readings tried (each costs one bounded solve).
        suspects: how many of the least confident cells (plus all conflicting cells) may change.
    """
    doubtful = tuple(int(i) for i in np.flatnonzero(reading.confidence < doubt_below))
    result = solve(reading.digits, max_steps=50_000)
    if result.status == "solved":
        return CheckedReading(reading, result, (), doubtful)

    logp = np.log(reading.probabilities + _EPS)
    digits = reading.digits.astype(np.int64)
    base = logp[np.arange(81), digits]
    conflicts = set(find_conflicts(digits))
    order = np.argsort(reading.confidence)
    cells = list(dict.fromkeys([*conflicts, *[int(i) for i in order[:suspects]]]))
    # Each cell's alternatives and their cost in lost log-probability.
    options: list[tuple[float, int, int]] = []
    for i in cells:
        for cls in np.argsort(-logp[i])[:3]:
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
    tried = 0
    while heap and tried < max_candidates:
        _, combo = heapq.heappop(heap)
        candidate = digits.copy()
        for j in combo:
            _, i, cls = options[j]
            candidate[i] = cls
        if find_conflicts(candidate):
            continue
        tried += 1
        fixed = solve(candidate, max_steps=20_000)
        if fixed.status == "solved":
            changed = tuple(sorted(options[j][1] for j in combo))
            return CheckedReading(
                _with_digits(reading, candidate),
                fixed,
                changed,
                tuple(sorted(set(doubtful) | set(changed))),
            )
    return CheckedReading(reading, result, (), tuple(sorted(set(doubtful) | conflicts)))
