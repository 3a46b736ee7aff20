"""Cell extraction: empty cells stay empty, digits are isolated and centred."""

import numpy as np
import pytest
from builders import PUZZLE, synthetic_photo

from streamocr.cells import MODEL_SIDE, cell_inputs, isolate_digit
from streamocr.grid import homography_for
from streamocr.types import GridDetection


def _truth_detection(photo, size=360):
    return GridDetection(photo.corners, homography_for(photo.corners, size), size)


@pytest.mark.parametrize("seed", range(4))
def test_ink_exactly_where_digits_are(seed):
    photo = synthetic_photo(seed=seed)
    inputs, has_ink = cell_inputs(photo.image, _truth_detection(photo))
    truth = np.array([c != "0" for c in PUZZLE])
    np.testing.assert_array_equal(has_ink, truth)
    assert inputs.shape == (81, 1, MODEL_SIDE, MODEL_SIDE) and inputs.dtype == np.float32
    assert np.all(inputs[~has_ink] == 0)


def test_digit_is_centred_and_scaled():
    photo = synthetic_photo(seed=0)
    inputs, has_ink = cell_inputs(photo.image, _truth_detection(photo))
    for cell in inputs[has_ink, 0]:
        ys, xs = np.nonzero(cell > 0.2)
        assert 17 <= ys.max() - ys.min() + 1 <= 21  # the digit's height fills the 20 px box
        assert abs((ys.min() + ys.max()) / 2 - 13.5) <= 1.5
        assert abs((xs.min() + xs.max()) / 2 - 13.5) <= 1.5
        assert cell.max() > 0.9  # ink normalised to full scale (resizing softens the peak)


@pytest.mark.parametrize(
    "draw, expect_ink",
    [
        (lambda b: None, False),  # blank cell
        (lambda b: b.__setitem__((slice(0, 3), slice(None)), 255), False),  # grid line at top
        (lambda b: b.__setitem__((slice(19, 21), slice(19, 21)), 255), False),  # a speck
        (lambda b: b.__setitem__((slice(8, 32), slice(18, 22)), 255), True),  # a "1"
    ],
)
def test_isolate_digit_cases(draw, expect_ink):
    binary = np.zeros((40, 40), np.uint8)
    draw(binary)
    strength = binary.astype(np.float32) / 255
    _, has_ink = isolate_digit(binary, strength)
    assert has_ink is expect_ink
