"""What several test files share: the model marker, a stand-in for the model, and per-frame
records compared without their latency (imported as ``helpers``: conftest puts tests/ on
the path)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from streamocr.recognize import DEFAULT_MODEL

needs_model = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason=f"no model at {DEFAULT_MODEL}")


class FakeRecognizer:
    """Stands in for the ONNX model: every cell is empty; records the batch shapes."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.shapes: list[tuple[int, ...]] = []

    @property
    def sizes(self) -> list[int]:
        """The cells of each batch."""
        return [shape[0] for shape in self.shapes]

    def recognize(self, cells: np.ndarray) -> np.ndarray:
        self.shapes.append(cells.shape)
        time.sleep(self.delay_s)
        probabilities = np.zeros((len(cells), 10), np.float32)
        probabilities[:, 0] = 1.0
        return probabilities


def records_without_latency(path: str | Path) -> list[dict]:
    """The JSON-lines records of a file, without `latency_ms` (which differs run to run)."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines()]
    for record in records:
        record.pop("latency_ms")
    return records
