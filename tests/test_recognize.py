"""The digit model's batching: a large request runs in bounded calls with the same answers."""

from __future__ import annotations

import numpy as np
from helpers import needs_model

from streamocr.recognize import DigitRecognizer


@needs_model
def test_a_request_larger_than_max_batch_runs_in_bounded_calls_with_the_same_answers():
    cells = np.random.default_rng(0).random((700, 1, 28, 28), dtype=np.float32)
    whole = DigitRecognizer(device="cpu", max_batch=1000)
    split = DigitRecognizer(device="cpu", max_batch=324)
    sizes: list[int] = []
    run = split.session.run

    def counted(outputs, feeds):
        sizes.append(len(next(iter(feeds.values()))))
        return run(outputs, feeds)

    split.session.run = counted  # type: ignore[method-assign]
    expected, got = whole.recognize(cells), split.recognize(cells)
    assert sizes == [324, 324, 81]  # 700 = 324 + 324 + 52, the last padded to one quantum
    assert got.shape == (700, 10)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@needs_model
def test_the_cpu_default_bounds_a_call_to_four_grids():
    assert DigitRecognizer(device="cpu").max_batch == 324
    assert DigitRecognizer(device="cpu", max_batch=100).max_batch == 81  # whole quanta
