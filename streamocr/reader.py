"""Reading one image: grid → cells → one batched model call → reading → solution.

`SudokuReader` composes the stages; the video pipeline calls the same pieces separately
(`extract` on the processing thread, `recognizer.recognize` on the recognition thread with
the cells of several frames in one batch, `interpret` afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cells import cell_inputs
from .grid import GridFinder, GridFinderSettings
from .recognize import DEFAULT_MODEL, DigitRecognizer
from .solve import solve
from .types import GridDetection, PuzzleResult, Reading


@dataclass(frozen=True)
class CellBatch:
    """The model inputs of one found grid, ready for recognition."""

    detection: GridDetection
    inputs: np.ndarray  # float32 (81, 1, 28, 28)
    has_ink: np.ndarray  # bool (81,)


def reading_from_probabilities(probabilities: np.ndarray, has_ink: np.ndarray) -> Reading:
    """Turn model probabilities into a reading; a cell without ink is empty for certain."""
    probs = probabilities.astype(np.float32).copy()
    probs[~has_ink] = 0.0
    probs[~has_ink, 0] = 1.0
    digits = probs.argmax(axis=1).astype(np.int8)
    confidence = probs[np.arange(81), digits]
    return Reading(digits=digits, confidence=confidence, probabilities=probs)


def solve_reading(reading: Reading) -> tuple[np.ndarray | None, str]:
    """Solve a reading; return the solution (or None) and a status string."""
    result = solve(reading.digits)
    return result.solution, result.status


class SudokuReader:
    """Reads Sudoku grids from still images.

    Example:
        >>> reader = SudokuReader()
        >>> result = reader.read(cv2.imread("page.jpg"))
        >>> result.reading.digit_string if result.found else None
    """

    def __init__(
        self,
        finder: GridFinder | None = None,
        recognizer: DigitRecognizer | None = None,
    ) -> None:
        self.finder = finder or GridFinder(GridFinderSettings())
        self.recognizer = recognizer or DigitRecognizer(DEFAULT_MODEL)

    def extract(self, image: np.ndarray) -> CellBatch | None:
        """Find the grid in `image` and cut its cells; None when no grid is found."""
        detection = self.finder.detect(image)
        if detection is None:
            return None
        inputs, has_ink = cell_inputs(image, detection)
        return CellBatch(detection, inputs, has_ink)

    def interpret(self, batch: CellBatch, probabilities: np.ndarray) -> PuzzleResult:
        """Build the result of one grid from its cells' probabilities."""
        reading = reading_from_probabilities(probabilities, batch.has_ink)
        solution, status = solve_reading(reading)
        return PuzzleResult(batch.detection, reading, solution, status)

    def read(self, image: np.ndarray) -> PuzzleResult:
        """Read the Sudoku in one BGR image."""
        batch = self.extract(image)
        if batch is None:
            return PuzzleResult(None, None)
        return self.interpret(batch, self.recognizer.recognize(batch.inputs))


def result_record(path: str, result: PuzzleResult) -> dict:
    """The JSON record of `streamocr read --json` for one image."""
    if not result.found or result.reading is None:
        return {
            "path": path,
            "found": False,
            "corners": None,
            "digits": None,
            "solution": None,
            "confidence": None,
            "error": None,
            "status": result.status,
        }
    corners = [[round(float(x), 2), round(float(y), 2)] for x, y in result.detection.corners]
    solution = None
    if result.solution is not None:
        solution = "".join(str(int(d)) for d in result.solution)
    return {
        "path": path,
        "found": True,
        "corners": corners,
        "digits": result.reading.digit_string,
        "solution": solution,
        "confidence": [round(float(c), 4) for c in result.reading.confidence],
        "error": None,
        "status": result.status,
    }
