"""Reading one image: grid → cells → one batched model call → reading → checked solution.

`SudokuReader` composes the stages; the video pipeline calls the same pieces separately
(`extract` on the processing thread, `recognizer.recognize` on the recognition thread with
the cells of several frames in one batch, `interpret` afterwards).

Orientation: a page photographed sideways or upside down is read upright by trying the four
rotations of the warped grid in the same model batch and keeping the one whose digits the
model is surest of. Phone photos' EXIF tags are applied on loading, but are not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cells import cell_inputs_from_warped, warped_gray
from .consistency import check_reading
from .grid import GridFinder, GridFinderSettings, homography_for
from .mesh import straighten
from .recognize import DEFAULT_MODEL, DigitRecognizer
from .solve import find_conflicts
from .types import GridDetection, PuzzleResult, Reading


@dataclass(frozen=True)
class CellBatch:
    """The model inputs of one found grid, in one or more orientations, ready for recognition.

    Attributes:
        detection: the grid as found (corners from the image's top-left).
        inputs: float32 (R * 81, 1, 28, 28): the cells of R rotations of the grid.
        has_ink: bool (R * 81,) whether each cell holds ink.
        rotations: R, 1 (as found) or 4 (0, 90, 180, 270 degrees counter-clockwise).
    """

    detection: GridDetection
    inputs: np.ndarray
    has_ink: np.ndarray
    rotations: int = 1


def reading_from_probabilities(probabilities: np.ndarray, has_ink: np.ndarray) -> Reading:
    """Turn model probabilities into a reading; a cell without ink is empty for certain."""
    probs = probabilities.astype(np.float32).copy()
    probs[~has_ink] = 0.0
    probs[~has_ink, 0] = 1.0
    digits = probs.argmax(axis=1).astype(np.int8)
    confidence = probs[np.arange(81), digits]
    return Reading(digits=digits, confidence=confidence, probabilities=probs)


def rotate_detection(detection: GridDetection, quarter_turns: int) -> GridDetection:
    """The same grid with its top-left moved by `quarter_turns` counter-clockwise turns."""
    if quarter_turns % 4 == 0:
        return detection
    corners = np.roll(detection.corners, -quarter_turns, axis=0)
    return GridDetection(
        corners, homography_for(corners, detection.warp_size), detection.warp_size, detection.score
    )


def orientation_score(probabilities: np.ndarray, has_ink: np.ndarray) -> float:
    """How upright a grid looks: the summed log-probability of its best digit per inked cell."""
    if not has_ink.any():
        return 0.0
    return float(np.log(probabilities[has_ink, 1:].max(axis=1) + 1e-6).sum())


def choose_orientation(probabilities: np.ndarray, has_ink: np.ndarray, rotations: int) -> int:
    """The quarter turns under which the grid reads as an upright Sudoku.

    Each rotation's reading is ranked first by how few rule conflicts its digits have (a
    page read sideways puts its digits in random places: they clash), then by how sure the
    model is of its digits (`orientation_score`).
    """
    if rotations == 1:
        return 0
    ranked = []
    for k in range(rotations):
        rows = slice(k * 81, (k + 1) * 81)
        digits = np.where(has_ink[rows], probabilities[rows, 1:].argmax(axis=1) + 1, 0)
        conflicts = len(find_conflicts(digits))
        ranked.append((conflicts, -orientation_score(probabilities[rows], has_ink[rows]), k))
    return min(ranked)[2]


class SudokuReader:
    """Reads Sudoku grids from still images.

    Args:
        finder: the grid finder.
        recognizer: the digit model.
        try_rotations: read the grid in all four orientations and keep the most likely.

    Example:
        >>> reader = SudokuReader()
        >>> result = reader.read(cv2.imread("page.jpg"))
        >>> result.reading.digit_string if result.found else None
    """

    def __init__(
        self,
        finder: GridFinder | None = None,
        recognizer: DigitRecognizer | None = None,
        try_rotations: bool = True,
    ) -> None:
        self.finder = finder or GridFinder(GridFinderSettings())
        self.recognizer = recognizer or DigitRecognizer(DEFAULT_MODEL)
        self.try_rotations = try_rotations

    def warm_up(self) -> None:
        """Run every stage once on a blank frame: JIT kernels, OpenCV and the model load."""
        blank = np.full((240, 320, 3), 200, np.uint8)
        self.finder.detect_all(blank)
        self.recognizer.recognize(np.zeros((4 * 81, 1, 28, 28), np.float32))

    def extract(self, image: np.ndarray) -> CellBatch | None:
        """Find the grid in `image` and cut its cells; None when no grid is found."""
        detection = self.finder.detect(image)
        if detection is None:
            return None
        return self.extract_at(image, detection)

    def extract_at(self, image: np.ndarray, detection: GridDetection) -> CellBatch:
        """Cut the cells of a grid already located in `image`."""
        gray = warped_gray(image, detection)
        if self.finder.settings.straighten:
            gray = straighten(gray)
        inputs, has_ink = cell_inputs_from_warped(gray)
        if not self.try_rotations:
            return CellBatch(detection, inputs, has_ink, 1)
        # Turning the grid turns each cell in place and moves it: both are array rotations
        # of the 9 x 9 mosaic of cell inputs, so the cells are cut only once.
        mosaic = inputs.reshape(9, 9, 28, 28)
        ink = has_ink.reshape(9, 9)
        turned = [np.rot90(np.rot90(mosaic, k, axes=(0, 1)), k, axes=(2, 3)) for k in range(4)]
        inputs = np.concatenate([t.reshape(81, 1, 28, 28) for t in turned])
        has_ink = np.concatenate([np.rot90(ink, k).reshape(81) for k in range(4)])
        return CellBatch(detection, np.ascontiguousarray(inputs), has_ink, 4)

    def interpret(self, batch: CellBatch, probabilities: np.ndarray) -> PuzzleResult:
        """Build the result of one grid from its cells' probabilities (R * 81 rows)."""
        k = choose_orientation(probabilities, batch.has_ink, batch.rotations)
        rows = slice(k * 81, (k + 1) * 81)
        reading = reading_from_probabilities(probabilities[rows], batch.has_ink[rows])
        checked = check_reading(reading)
        solution = checked.result.solution
        return PuzzleResult(
            detection=rotate_detection(batch.detection, k),
            reading=checked.reading,
            solution=solution,
            status=checked.result.status,
            doubtful=checked.doubtful,
            changed=checked.changed,
        )

    def read(self, image: np.ndarray) -> PuzzleResult:
        """Read the Sudoku in one BGR image."""
        batch = self.extract(image)
        if batch is None:
            return PuzzleResult(None, None)
        return self.interpret(batch, self.recognizer.recognize(batch.inputs))


def result_record(path: str, result: PuzzleResult) -> dict:
    """The JSON record of `streamocr read --json` for one image."""
    if result.detection is None or result.reading is None:  # not found
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
        "doubtful": list(result.doubtful),
    }
