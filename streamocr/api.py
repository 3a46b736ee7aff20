"""The public entry points for programs: read a photo, read frames, process a video.

Re-exported by `streamocr` itself; see its docstring and the README's "Python API".
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import Config
from .photos import load_image
from .reader import SudokuReader
from .types import PuzzleResult


@lru_cache(maxsize=1)
def _default_reader() -> SudokuReader:
    return SudokuReader.from_config(Config())


def read_image(
    image: np.ndarray | str | Path,
    config: Config | None = None,
    reader: SudokuReader | None = None,
) -> PuzzleResult:
    """Read the Sudoku in one photo, as `streamocr read` does.

    Args:
        image: a BGR uint8 array (as OpenCV loads it) or the path of an image file.
        config: the configuration (default: the built-in defaults; the default reader is
            built once and kept).
        reader: a `Reader` to use instead (repeated reads with one loaded model).

    Returns:
        A `PuzzleResult`: ``found``, the grid's ``detection`` (corners clockwise from the
        puzzle's top-left), the ``reading`` (81 digits, 0 = empty), the ``solution`` and
        ``status`` (``solved``, ``invalid``, ``unsolvable`` or ``not_found``).

    Raises:
        InputError: the file is missing or not an image.
        ModelError: the digit model cannot be loaded.
    """
    if reader is None:
        reader = _default_reader() if config is None else SudokuReader.from_config(config)
    if not isinstance(image, np.ndarray):
        image = load_image(image)
    return reader.read(image)
