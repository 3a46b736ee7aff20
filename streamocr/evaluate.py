"""Scoring the reader on a labelled photo folder (imageN.jpg + imageN.dat)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .dataset import LabelledPhoto
from .errors import StreamOCRError
from .photos import load_image
from .reader import SudokuReader
from .solve import solve
from .types import PuzzleResult


@dataclass
class ImageScore:
    """How one photo was read."""

    path: Path
    found: bool
    wrong_cells: list[tuple[int, int, int]]  # (index, truth, read)
    error: str | None = None
    solved: bool = False  # a solution was given (the reading vouched for)
    solved_wrong: bool = False  # ... and it is not the puzzle's

    @property
    def fully_right(self) -> bool:
        """All 81 cells right."""
        return self.found and not self.wrong_cells and self.error is None


@dataclass
class EvalReport:
    """Totals over a folder."""

    scores: list[ImageScore] = field(default_factory=list)
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((10, 10), np.int64))
    seconds: float = 0.0

    @property
    def images(self) -> int:
        """Number of photos scored."""
        return len(self.scores)

    @property
    def found(self) -> int:
        """Photos where a grid was found."""
        return sum(s.found for s in self.scores)

    @property
    def fully_right(self) -> int:
        """Photos read with all 81 cells right."""
        return sum(s.fully_right for s in self.scores)

    @property
    def solved(self) -> int:
        """Photos whose solution was given."""
        return sum(s.solved for s in self.scores)

    @property
    def solved_wrong(self) -> int:
        """Photos given a solution that is not their puzzle's (must be 0)."""
        return sum(s.solved_wrong for s in self.scores)

    @property
    def cell_accuracy(self) -> float:
        """Share of all cells read right (a photo with no grid counts all its cells wrong)."""
        total = 81 * self.images
        wrong = sum(81 if not s.found else len(s.wrong_cells) for s in self.scores)
        return 1.0 - wrong / total if total else 0.0

    @property
    def filled_accuracy(self) -> float:
        """Share of cells holding a digit that were read as that digit (found grids only)."""
        filled = self.confusion[1:].sum()
        return float(np.trace(self.confusion[1:, 1:]) / filled) if filled else 0.0

    def summary(self) -> dict:
        """The headline figures as a dict (for JSON and the baseline test)."""
        return {
            "images": self.images,
            "grids_found": self.found,
            "grids_fully_right": self.fully_right,
            "grid_accuracy": round(self.fully_right / self.images, 4) if self.images else 0.0,
            "solutions_given": self.solved,
            "wrong_solutions": self.solved_wrong,
            "cell_accuracy": round(self.cell_accuracy, 5),
            "filled_cell_accuracy": round(self.filled_accuracy, 5),
            "seconds_per_image": round(self.seconds / max(1, self.images), 4),
        }

    def format(self) -> str:
        """The human-readable report printed by `streamocr eval`."""
        s = self.summary()
        lines = [
            f"images:              {s['images']}",
            f"grids found:         {s['grids_found']}",
            f"grids fully right:   {s['grids_fully_right']} ({100 * s['grid_accuracy']:.1f}%)",
            f"solutions given:     {s['solutions_given']}, wrong: {s['wrong_solutions']} "
            "(the others: no solution, or not sure enough to give one)",
            f"cell accuracy:       {100 * s['cell_accuracy']:.2f}%",
            f"filled-cell accuracy:{100 * s['filled_cell_accuracy']:7.2f}%",
            f"seconds per image:   {s['seconds_per_image']:.3f}",
            "",
            "confusion (rows: truth, columns: read; 0 = empty):",
            "       " + " ".join(f"{c:>5}" for c in range(10)),
        ]
        for r in range(10):
            lines.append(f"  {r:>3}  " + " ".join(f"{v:>5}" for v in self.confusion[r]))
        wrong = [sc for sc in self.scores if not sc.fully_right]
        if wrong:
            lines += ["", "read wrong:"]
            for sc in wrong:
                if sc.error:
                    lines.append(f"  {sc.path.name}: error: {sc.error}")
                elif not sc.found:
                    lines.append(f"  {sc.path.name}: no grid found")
                else:
                    cells = ", ".join(
                        f"r{i // 9 + 1}c{i % 9 + 1} {t}->{r}" for i, t, r in sc.wrong_cells
                    )
                    lines.append(f"  {sc.path.name}: {len(sc.wrong_cells)} wrong: {cells}")
        return "\n".join(lines)


def evaluate(
    reader: SudokuReader, photos: list[LabelledPhoto], debug_dir: Path | None = None
) -> EvalReport:
    """Read every photo and compare with its truth."""
    report = EvalReport()
    start = time.perf_counter()
    for photo in photos:
        try:
            image = load_image(photo.image_path)
        except StreamOCRError as exc:
            report.scores.append(ImageScore(photo.image_path, False, [], str(exc)))
            continue
        result = reader.read(image)
        score = _score(photo, result, report.confusion)
        report.scores.append(score)
        if debug_dir is not None and not score.fully_right:
            write_debug(debug_dir, photo, image, result, score, reader)
    report.seconds = time.perf_counter() - start
    return report


def _score(photo: LabelledPhoto, result: PuzzleResult, confusion: np.ndarray) -> ImageScore:
    if not result.found or result.reading is None:
        return ImageScore(photo.image_path, False, [])
    read = result.reading.digits.astype(int)
    truth = photo.digits.astype(int)
    np.add.at(confusion, (truth, read), 1)
    wrong = [(int(i), int(truth[i]), int(read[i])) for i in np.flatnonzero(read != truth)]
    solved = result.solution is not None
    solved_wrong = False
    if solved:
        # A misread that leaves the solution as it is (a given read as empty) is not a
        # wrong solution; any other difference is.
        truth_solution = solve(photo.digits.astype(np.int8)).solution
        solved_wrong = truth_solution is None or bool((truth_solution != result.solution).any())
    return ImageScore(photo.image_path, True, wrong, solved=solved, solved_wrong=solved_wrong)


def write_debug(
    out: Path,
    photo: LabelledPhoto,
    image: np.ndarray,
    result: PuzzleResult,
    score: ImageScore,
    reader: SudokuReader,
) -> None:
    """Write the outline on the photo, the warped grid and the misread cells' inputs."""
    from .grid import warp_grid

    out.mkdir(parents=True, exist_ok=True)
    stem = f"{photo.image_path.parent.name}_{photo.image_path.stem}"
    shown = image.copy()
    if result.detection is not None:
        pts = result.detection.corners.astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(shown, [pts], True, (0, 0, 255), max(2, image.shape[1] // 300), cv2.LINE_AA)
        cv2.circle(shown, tuple(int(v) for v in result.detection.corners[0]), 8, (0, 255, 0), -1)
    cv2.imwrite(str(out / f"{stem}_outline.jpg"), shown)
    if result.detection is None:
        return
    warped = warp_grid(image, result.detection)
    cell = result.detection.warp_size // 9
    for i, t, r in score.wrong_cells:
        y, x = (i // 9) * cell, (i % 9) * cell
        cv2.rectangle(warped, (x + 1, y + 1), (x + cell - 2, y + cell - 2), (0, 0, 255), 2)
        cv2.putText(
            warped,
            f"{t}>{r}",
            (x + 2, y + cell - 4),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (0, 0, 255),
            1,
            cv2.LINE_AA,
        )
    cv2.imwrite(str(out / f"{stem}_warped.png"), warped)
    if score.wrong_cells:
        # The detection is already turned upright: its first rotation is what was read.
        inputs = reader.extract_at(image, result.detection).inputs
        crops = [inputs[i, 0] for i, _, _ in score.wrong_cells]
        strip = np.hstack([np.pad(c, 2, constant_values=0.5) for c in crops])
        strip = cv2.resize(strip, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(out / f"{stem}_cells.png"), (strip * 255).astype(np.uint8))
