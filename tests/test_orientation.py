"""Choosing the upright orientation of a grid from its four rotations' readings."""

import numpy as np
import pytest

from streamocr.orientation import choose_orientation
from streamocr.synth.builders import PUZZLE

TRUTH = np.array([int(c) for c in PUZZLE])
INK = TRUTH != 0


def _probs(digits, sure):
    p = np.full((81, 10), (1 - sure) / 9, np.float32)
    p[np.arange(81), digits] = sure
    return p


def _shuffled(seed):
    """A sideways reading: the same ink, digits where they clash."""
    rng = np.random.default_rng(seed)
    return np.where(INK, rng.integers(1, 10, 81), 0)


@pytest.mark.parametrize(
    "upright, sure_upright, sure_other, expected",
    [
        (0, 0.9, 0.6, 0),  # upright and surest
        (2, 0.9, 0.6, 2),  # upside down page: the third rotation reads it
        # The model is surer of a sideways reading, but its digits break the rules.
        (1, 0.6, 0.95, 1),
    ],
)
def test_the_rule_abiding_reading_wins(upright, sure_upright, sure_other, expected):
    blocks = [
        _probs(TRUTH, sure_upright) if k == upright else _probs(_shuffled(k), sure_other)
        for k in range(4)
    ]
    chosen = choose_orientation(np.concatenate(blocks), np.tile(INK, 4), 4)
    assert chosen == expected


def test_one_rotation_is_taken_as_it_is():
    assert choose_orientation(_probs(TRUTH, 0.9), INK, 1) == 0
