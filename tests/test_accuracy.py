"""Accuracy regression gate: the reader on the validation pages against a stored baseline.

The baseline (tests/baselines/accuracy.json) holds the figures `streamocr eval --split
validation` printed when the current model and chain were committed. A change that reads
fewer grids fully right, or fewer cells right, fails here. Refresh the baseline only with a
change that really improves accuracy:

    .venv/bin/python tests/test_accuracy.py --update
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BASELINE = Path(__file__).parent / "baselines" / "accuracy.json"
FOLDERS = ("v2_train", "mixed_train")
CELL_TOLERANCE = 0.0005  # rounding of the stored figures


def measure(photos_dir: Path) -> dict[str, dict]:
    """Evaluate the default reader on the validation pages of each folder."""
    from streamocr.dataset import load_folder
    from streamocr.evaluate import evaluate
    from streamocr.reader import SudokuReader

    reader = SudokuReader()
    return {
        folder: evaluate(reader, load_folder(photos_dir / folder, "validation")).summary()
        for folder in FOLDERS
    }


@pytest.mark.accuracy
@pytest.mark.parametrize("folder", FOLDERS)
def test_validation_accuracy_holds(photos_dir, folder, validation_figures):
    baseline = json.loads(BASELINE.read_text())[folder]
    measured = validation_figures[folder]
    assert measured["images"] == baseline["images"]
    assert measured["grids_found"] >= baseline["grids_found"]
    assert measured["grids_fully_right"] >= baseline["grids_fully_right"]
    assert measured["cell_accuracy"] >= baseline["cell_accuracy"] - CELL_TOLERANCE
    # Never a wrong solution; and no fewer solutions given than the baseline.
    assert measured["wrong_solutions"] == 0
    assert measured["solutions_given"] >= baseline.get("solutions_given", 0)


@pytest.fixture(scope="module")
def validation_figures(photos_dir):
    return measure(photos_dir)


if __name__ == "__main__" and "--update" in sys.argv:
    photos = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "sudoku_photos"
    figures = measure(photos)
    BASELINE.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
