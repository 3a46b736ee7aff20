"""streamocr: read Sudoku puzzles from photos, videos, cameras and network streams.

The public API (everything else is internal and may move):

- `read_image(image_or_path)` -> `PuzzleResult`: read one photo.
- `Reader`: read many photos with one loaded model (``Reader.from_config(config)``,
  ``reader.read(image)``).
- `StreamReader`: read video frame by frame in your own loop (``stream.update(frame)``),
  with the grid tracking and the evidence over frames of `streamocr run`, without threads.
- `process_video(source, out=..., jsonl=..., config=...)` -> `RunSummary`: what
  `streamocr run` does (threads, queues, outputs), with the same defaults.
- `load_config(path, overrides)` -> `Config`; `PuzzleResult`, `GridDetection`, `Reading`,
  `Status` (a `str` enum: solved, invalid, unsolvable, not_found, gave_up, pending);
  `StreamOCRError` and its subclasses; `records` (the JSON records of the CLI).

Example:
    >>> import streamocr
    >>> result = streamocr.read_image("page.jpg")
    >>> result.reading.digit_string if result.found else None

Names are loaded on first use, so ``import streamocr.config`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "read_image": ".api",
    "Reader": ".reader",
    "StreamReader": ".stream",
    "process_video": ".pipeline",
    "RunSummary": ".pipeline",
    "load_config": ".config",
    "Config": ".config",
    "PuzzleResult": ".types",
    "GridDetection": ".types",
    "Reading": ".types",
    "Status": ".types",
    "Frame": ".types",
    "StreamOCRError": ".errors",
    "InputError": ".errors",
    "ConfigError": ".errors",
    "ModelError": ".errors",
    "SourceError": ".errors",
    "SinkError": ".errors",
}
_RENAMED = {"Reader": "SudokuReader"}

__all__ = [
    "Config",
    "ConfigError",
    "Frame",
    "GridDetection",
    "InputError",
    "ModelError",
    "PuzzleResult",
    "Reader",
    "Reading",
    "RunSummary",
    "SinkError",
    "SourceError",
    "StreamOCRError",
    "Status",
    "StreamReader",
    "load_config",
    "process_video",
    "read_image",
]
assert set(__all__) == set(_EXPORTS)

if TYPE_CHECKING:
    from .api import read_image
    from .config import Config, load_config
    from .errors import (
        ConfigError,
        InputError,
        ModelError,
        SinkError,
        SourceError,
        StreamOCRError,
    )
    from .pipeline import RunSummary, process_video
    from .reader import SudokuReader as Reader
    from .stream import StreamReader
    from .types import Frame, GridDetection, PuzzleResult, Reading, Status


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'streamocr' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
