"""The training data's camera effects (no torch needed: only the data makers)."""

from __future__ import annotations

import numpy as np
import pytest

from streamocr.training.render import FONT_PACKAGES, few_fonts_warning, motion_blur


@pytest.mark.parametrize("angle", [0.0, np.pi / 4, np.pi / 2, 2.0])
def test_motion_blur_smears_a_dot_into_a_line_of_the_given_length_and_direction(angle):
    dot = np.zeros((61, 61), np.float32)
    dot[30, 30] = 1.0
    length = 12.0
    smeared = motion_blur(dot, length, angle)
    assert smeared.sum() == pytest.approx(1.0, abs=1e-4)  # light is moved, not made or lost
    ys, xs = np.nonzero(smeared > 1e-3)
    weights = smeared[ys, xs]
    # Its spread along the direction is the length; across it, about a pixel.
    along = (xs - 30) * np.cos(angle) + (ys - 30) * np.sin(angle)
    across = -(xs - 30) * np.sin(angle) + (ys - 30) * np.cos(angle)
    assert np.ptp(along) == pytest.approx(length, abs=2.0)
    assert np.abs(across).max() <= 1.5
    assert abs(np.average(along, weights=weights)) < 0.6  # centred: the grid is not shifted


def test_a_smear_under_a_pixel_leaves_the_image_as_it_is():
    image = np.random.default_rng(0).uniform(0, 255, (20, 20)).astype(np.float32)
    assert np.array_equal(motion_blur(image, 0.8, 1.0), image)


def test_a_training_run_with_few_fonts_says_which_packages_to_install():
    warning = few_fonts_warning(50)
    assert warning is not None and "50" in warning and FONT_PACKAGES in warning
    assert few_fonts_warning(119) is None
