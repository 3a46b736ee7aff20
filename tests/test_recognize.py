"""The digit model's batching: a large request runs in bounded calls with the same answers."""

from __future__ import annotations

import numpy as np
from helpers import needs_model

from streamocr.recognize import DigitRecognizer, padded_size


def _batch_sizes(recognizer: DigitRecognizer) -> list[int]:
    """The cells of each model call `recognizer` makes from now on (a live list)."""
    sizes: list[int] = []
    run = recognizer.session.run

    def counted(outputs, feeds):
        sizes.append(len(next(iter(feeds.values()))))
        return run(outputs, feeds)

    recognizer.session.run = counted  # type: ignore[method-assign]
    return sizes


@needs_model
def test_a_request_larger_than_max_batch_runs_in_bounded_calls_with_the_same_answers():
    cells = np.random.default_rng(0).random((700, 1, 28, 28), dtype=np.float32)
    whole = DigitRecognizer(device="cpu", max_batch=1000)
    split = DigitRecognizer(device="cpu", max_batch=324)
    sizes = _batch_sizes(split)
    expected, got = whole.recognize(cells), split.recognize(cells)
    assert sizes == [324, 324, 52]  # 700 = 324 + 324 + 52
    assert got.shape == (700, 10)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@needs_model
def test_the_cpu_default_bounds_a_call_to_four_grids():
    assert DigitRecognizer(device="cpu").max_batch == 324
    assert DigitRecognizer(device="cpu", max_batch=100).max_batch == 100
    assert DigitRecognizer(device="cpu", max_batch=100, batch_quantum=81).max_batch == 81


def test_only_inked_cells_go_to_the_model_and_the_rest_read_empty():
    from helpers import FakeRecognizer

    from streamocr.stream import GridWork, recognize_grids
    from streamocr.types import CellBatch, GridDetection

    class Numbered(FakeRecognizer):  # each cell's digit is written in its first pixel
        def recognize(self, cells):
            super().recognize(cells)
            probabilities = np.zeros((len(cells), 10), np.float32)
            probabilities[np.arange(len(cells)), cells[:, 0, 0, 0].astype(int)] = 1.0
            return probabilities

    rng = np.random.default_rng(1)
    detection = GridDetection(np.float32([[0, 0], [90, 0], [90, 90], [0, 90]]), np.eye(3), 90, 1.0)
    grids = []
    for rotations in (1, 4):
        inputs = np.zeros((81 * rotations, 1, 28, 28), np.float32)
        inputs[:, 0, 0, 0] = rng.integers(1, 10, 81 * rotations)
        has_ink = rng.random(81 * rotations) < 0.3
        grids.append(GridWork(0, detection, cells=CellBatch(detection, inputs, has_ink, rotations)))
    model = Numbered()
    assert recognize_grids(model, grids) == 1
    inked = sum(int(g.cells.has_ink.sum()) for g in grids)
    assert model.sizes == [128] and inked <= 128  # padded to a power of two
    for grid in grids:
        digits = grid.probabilities.argmax(axis=1)
        expected = np.where(grid.cells.has_ink, grid.cells.inputs[:, 0, 0, 0], 0)
        np.testing.assert_array_equal(digits, expected)
    # Nothing inked: no model call, every cell empty.
    blank = CellBatch(detection, np.zeros((81, 1, 28, 28), np.float32), np.zeros(81, bool), 1)
    work = GridWork(0, detection, cells=blank)
    assert recognize_grids(model, [work]) == 0 and model.sizes == [128]
    assert (work.probabilities.argmax(axis=1) == 0).all()


@needs_model
def test_warm_up_runs_each_padded_batch_shape_on_cuda_and_one_call_on_the_cpu():
    recognizer = DigitRecognizer(device="cpu")
    sizes = _batch_sizes(recognizer)
    recognizer.warm_up()
    assert sizes == [324]
    # On CUDA a shape's first call sets up its kernels: every size `padded_size` can give
    # up to the largest call is run once at start, so no frame waits for it.
    recognizer.on_cuda, recognizer.max_batch = True, 4096
    sizes.clear()
    recognizer.warm_up()
    assert sizes == [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    assert all(padded_size(n) in sizes for n in (1, 17, 81, 300, 1000, 4096))
