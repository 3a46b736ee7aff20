"""The JSON records streamocr writes: one per photo (`read --json`), one per video frame
(`run --jsonl`), and the record of a photo that could not be read. Built here only.

Every record carries ``"schema": SCHEMA_VERSION``; a field's meaning never changes within a
version (fields may be added). On video each grid carries ``track``: the id of the tracked
grid, stable while it stays in view, new when a grid comes (back) into view.
"""

from __future__ import annotations

from typing import Any

from .types import Frame, PuzzleResult

SCHEMA_VERSION = 1


def _corners(result: PuzzleResult) -> list[list[float]] | None:
    if result.detection is None:
        return None
    return [[round(float(x), 2), round(float(y), 2)] for x, y in result.detection.corners]


def _solution(result: PuzzleResult) -> str | None:
    if result.solution is None:
        return None
    return "".join(str(int(d)) for d in result.solution)


def grid_fields(result: PuzzleResult) -> dict[str, Any]:
    """found, corners, digits, solution, track of one video grid; no digits while any cell is
    undecided."""
    digits = None
    if result.reading is not None and not result.undecided:
        digits = result.reading.digit_string
    return {
        "found": result.found,
        "corners": _corners(result),
        "digits": digits,
        "solution": _solution(result),
        "track": result.track_id,
    }


def frame_record(
    frame: Frame, results: PuzzleResult | list[PuzzleResult], latency_ms: float
) -> dict[str, Any]:
    """The JSON-lines record of one video frame.

    The top-level fields describe the largest grid (or say none was found), so readers of
    the one-puzzle format keep working; with several grids, ``grids`` lists them all,
    largest first, with the same fields. A grid still being acquired has corners but no
    digits.
    """
    if isinstance(results, PuzzleResult):
        results = [results] if results.found else []
    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "frame": frame.index,
        "pts": round(frame.pts_s, 6),
    }
    record.update(grid_fields(results[0] if results else PuzzleResult(None, None)))
    if len(results) > 1:
        record["grids"] = [grid_fields(r) for r in results]
    record["latency_ms"] = round(latency_ms, 2)
    return record


def photo_record(path: str, result: PuzzleResult) -> dict[str, Any]:
    """The record of `streamocr read --json` for one photo that was read."""
    found = result.found and result.reading is not None
    return {
        "schema": SCHEMA_VERSION,
        "path": path,
        "found": found,
        "corners": _corners(result) if found else None,
        "digits": result.reading.digit_string if found and result.reading else None,
        "solution": _solution(result) if found else None,
        "confidence": (
            [round(float(c), 4) for c in result.reading.confidence]
            if found and result.reading
            else None
        ),
        "error": None,
        "status": result.status,
        "doubtful": list(result.doubtful) if found else [],
    }


def error_record(path: str, message: str) -> dict[str, Any]:
    """The record of `streamocr read --json` for a photo that could not be read."""
    return {
        "schema": SCHEMA_VERSION,
        "path": path,
        "found": False,
        "corners": None,
        "digits": None,
        "solution": None,
        "confidence": None,
        "error": message,
        "status": "error",
        "doubtful": [],
    }
