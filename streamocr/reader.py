"""Reading one image: grid → cells → one batched model call → reading → checked solution.

`SudokuReader` composes the stages; the video pipeline calls the same pieces separately
(`extract` on the processing thread, `recognizer.recognize` on the recognition thread with
the cells of several frames in one batch, `interpret` afterwards).

Orientation: a page photographed sideways or upside down is read upright by trying the four
rotations of the warped grid in the same model batch and keeping the one whose digits the
model is surest of. Phone photos' EXIF tags are applied on loading, but are not trusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .borders import find_borders
from .cells import cells_with_faint_ink, warped_gray
from .consistency import check_reading, unvouched
from .grid import GridFinder, GridFinderSettings, structure_score
from .mesh import straighten
from .orientation import all_rotations, choose_orientation, rotate_detection, rotation_rows
from .recognize import DEFAULT_MODEL, DigitRecognizer, recognize_inked
from .types import CellBatch, GridDetection, PuzzleResult, Reading, Status

if TYPE_CHECKING:
    from .config import Config


# How close (in nats of log-probability) another class of a cell must come to the class
# read for a single image's reading to be ambiguous, when that other reading passes the
# rules too (`consistency.unvouched`). 3: the other class at least 5% as likely. On the
# 320 labelled photos: no wrong reading keeps its solution (9 did at no margin), and 233 of
# the 309 right readings do; the others are given as read, their doubtful cells marked.
VOUCH_MARGIN = 3.0


def reading_from_probabilities(probabilities: np.ndarray, has_ink: np.ndarray) -> Reading:
    """Turn model probabilities into a reading; a cell without ink is empty for certain."""
    probs = probabilities.astype(np.float32).copy()
    probs[~has_ink] = 0.0
    probs[~has_ink, 0] = 1.0
    digits = probs.argmax(axis=1).astype(np.int8)
    confidence = probs[np.arange(81), digits]
    return Reading(digits=digits, confidence=confidence, probabilities=probs)


def interpret_cells(
    detection: GridDetection, has_ink: np.ndarray, rotations: int, probabilities: np.ndarray
) -> PuzzleResult:
    """The result of one grid from its cells' probabilities (``rotations * 81`` rows): the
    upright rotation chosen, the reading checked and solved."""
    k = choose_orientation(probabilities, has_ink, rotations)
    rows = rotation_rows(k)
    reading = reading_from_probabilities(probabilities[rows], has_ink[rows])
    checked = check_reading(reading)
    solution, status, doubtful = checked.result.solution, checked.result.status, checked.doubtful
    if status == Status.SOLVED:
        # One image is all the evidence: its solution is given only when the reading
        # vouches for it (exactly one solution, and no cell read with doubt that would
        # pass the rules read otherwise).
        unsure = unvouched(checked, VOUCH_MARGIN)
        if unsure is not None:
            solution, status = None, Status.UNSURE
            doubtful = tuple(sorted(set(doubtful) | set(unsure)))
    return PuzzleResult(
        detection=rotate_detection(detection, k),
        reading=checked.reading,
        solution=solution,
        status=status,
        doubtful=doubtful,
        changed=checked.changed,
    )


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
        self._warm = False

    @classmethod
    def from_config(cls, config: Config | None = None) -> SudokuReader:
        """The reader built from a configuration (default: the built-in defaults): its grid
        finder and its digit model. `streamocr read`, `run` and `eval` all build theirs here.

        Raises:
            ModelError: the model file is missing or cannot be loaded.
        """
        if config is None:
            from .config import Config

            config = Config()
        recognition = config.recognition
        recognizer = DigitRecognizer(recognition.model, recognition.device, recognition.threads)
        return cls(GridFinder(config.grid), recognizer)

    def warm_up(self) -> None:
        """Run every stage once on a blank frame: JIT kernels, OpenCV and the model load
        (once: later calls return at once)."""
        if self._warm:
            return
        blank = np.full((240, 320, 3), 200, np.uint8)
        self.finder.detect_all(blank)
        # The compiled border fit and structure score, which a blank frame's search never
        # reaches (compiled once per install, then loaded from Numba's cache).
        square = np.array([[40, 40], [200, 40], [200, 200], [40, 200]], np.float32)
        find_borders(blank[..., 0], square)
        structure_score(blank[..., 0], square)
        if isinstance(self.recognizer, DigitRecognizer):
            self.recognizer.warm_up()  # on CUDA: each batch shape the video paths use
        else:  # a stand-in (a test's, a cluster actor's client)
            self.recognizer.recognize(np.zeros((4 * 81, 1, 28, 28), np.float32))
        self._warm = True

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
        inputs, has_ink, faint_ink = cells_with_faint_ink(gray)
        batch = CellBatch(detection, inputs, has_ink, 1, faint_ink)
        return all_rotations(batch) if self.try_rotations else batch

    def interpret(self, batch: CellBatch, probabilities: np.ndarray) -> PuzzleResult:
        """Build the result of one grid from its cells' probabilities (R * 81 rows)."""
        return interpret_cells(batch.detection, batch.has_ink, batch.rotations, probabilities)

    def read(self, image: np.ndarray) -> PuzzleResult:
        """Read the Sudoku in one BGR image."""
        batch = self.extract(image)
        if batch is None:
            return PuzzleResult(None, None)
        # Only inked cells go to the model: a cell without ink reads as empty regardless.
        [probabilities] = recognize_inked(self.recognizer, [(batch.inputs, batch.has_ink)])
        return self.interpret(batch, probabilities)
