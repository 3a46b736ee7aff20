"""Preprocessing: the Numba ink kernel matches OpenCV; coloured ink turns dark."""

import numpy as np
import pytest

from streamocr.preprocess import (
    binarize,
    gray_percentiles,
    ink_gray,
    ink_gray_opencv,
    levels_percentile,
    pairwise_sum,
    resize_max_side,
)


@pytest.mark.parametrize("shape", [(1, 1, 3), (37, 53, 3), (480, 640, 3)])
def test_numba_matches_opencv(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(ink_gray(image), ink_gray_opencv(image))


@pytest.mark.parametrize(
    "ink_bgr",
    [(20, 20, 20), (200, 60, 30), (30, 40, 200)],  # black, blue, red pen
)
def test_coloured_ink_is_dark(ink_bgr):
    image = np.full((10, 10, 3), 245, np.uint8)
    image[4:6, 4:6] = ink_bgr
    gray = ink_gray(image)
    assert gray[5, 5] <= 60 and gray[0, 0] == 245


def test_rejects_bad_shape():
    with pytest.raises(ValueError, match="uint8"):
        ink_gray(np.zeros((4, 4, 4), np.uint8))


def test_resize_keeps_small_images():
    image = np.zeros((100, 50), np.uint8)
    assert resize_max_side(image, 200) == (image, 1.0)
    small, scale = resize_max_side(np.zeros((1000, 500), np.uint8), 200)
    assert small.shape == (200, 100) and scale == pytest.approx(0.2)


def test_binarize_marks_ink():
    gray = np.full((200, 200), 230, np.uint8)
    gray[98:102, 20:180] = 30  # a printed line, thinner than the threshold window
    binary = binarize(gray)
    assert binary[100, 100] == 255 and binary[20, 20] == 0


@pytest.mark.parametrize("q", [99.5, 90, 75, 50, 12.3])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_percentiles_read_off_histograms_are_numpys(q, dtype):
    rng = np.random.default_rng(int(q * 10))
    for groups, n in [(1, 129600), (81, 400), (81, 100), (3, 7), (2, 1)]:
        levels = rng.integers(30, 256, (groups, n)).astype(dtype)
        expected = np.percentile(levels, q, axis=1)
        got = levels_percentile(levels, q)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_a_whole_images_percentiles_are_numpys():
    rng = np.random.default_rng(3)
    for shape in [(720, 1280), (37, 53), (1, 1), (120, 90)]:
        image = rng.integers(0, 256, shape).astype(np.uint8)
        image[: shape[0] // 2] //= 40  # a lumpy histogram, with ties
        qs = (0.1, 2, 5, 90, 95, 99.9)
        assert gray_percentiles(image[::3, ::3], qs) == list(np.percentile(image[::3, ::3], qs))
        # Whole levels held as float32 (a difference of two uint8 images): the same, as
        # float32 scalars.
        levels = image.astype(np.float32)
        got = gray_percentiles(levels, qs)
        assert got == list(np.percentile(levels, qs))
        assert all(v.dtype == np.float32 for v in got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_sums_are_numpys_to_the_bit(dtype):
    # The compiled border fit and structure score add in NumPy's order (pairwise): their
    # results are then NumPy's own, bit for bit.
    rng = np.random.default_rng(5)
    for n in range(1, 129):
        for _ in range(20):
            values = (rng.normal(0, 1, n) * 10.0 ** rng.uniform(-3, 3, n)).astype(dtype)
            got = pairwise_sum(values)
            assert got == values.sum()  # a float32 sum returns as a Python float
            assert dtype(got) / dtype(n) == values.mean()
