"""Overlay: digits in the grid's perspective, nothing without a grid."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streamocr.grid import homography_for
from streamocr.overlay import Overlay, OverlayStyle
from streamocr.synth.builders import PUZZLE, SOLUTION
from streamocr.types import GridDetection, PuzzleResult, Reading

CORNERS = np.array([[60, 40], [250, 52], [240, 230], [50, 220]], np.float32)


def _result(corners=CORNERS, solved=True):
    digits = np.array([int(c) for c in PUZZLE], np.int8)
    probabilities = np.eye(10, dtype=np.float32)[digits]
    reading = Reading(digits, np.ones(81, np.float32), probabilities)
    solution = np.array([int(c) for c in SOLUTION], np.int8) if solved else None
    detection = GridDetection(corners, homography_for(corners, 360), 360)
    return PuzzleResult(detection, reading, solution, "solved" if solved else "unsolvable")


def _gray_frame():
    return np.full((270, 320, 3), 128, np.uint8)


def test_nothing_drawn_without_a_grid():
    frame = _gray_frame()
    out = Overlay().draw(frame, PuzzleResult(None, None))
    assert np.array_equal(out, frame)
    assert out is not frame


def test_draws_only_inside_the_grid_outline():
    frame = _gray_frame()
    out = Overlay().draw(frame, _result())
    changed = np.any(out != frame, axis=2)
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, CORNERS.astype(np.int32), 1)
    grown = cv2.dilate(mask, np.ones((9, 9), np.uint8)) > 0  # the outline's own width
    assert changed[grown].sum() > 1000
    assert not changed[~grown].any()


def test_given_and_solved_digits_use_their_colours():
    style = OverlayStyle()
    out = Overlay(style).draw(_gray_frame(), _result())

    def near(color):
        return np.all(np.abs(out.astype(int) - color) < 30, axis=2).sum()

    assert near(style.solved_color) > 50
    assert near(style.given_color) > 50


def test_unsolved_grid_shows_outline_but_no_solution():
    style = OverlayStyle()
    out = Overlay(style).draw(_gray_frame(), _result(solved=False))
    assert np.all(np.abs(out.astype(int) - style.unsolved_color) < 30, axis=2).sum() > 50
    assert np.all(np.abs(out.astype(int) - style.solved_color) < 30, axis=2).sum() == 0


@pytest.mark.parametrize(
    "corners",
    [
        CORNERS + [200, 0],  # half out of the frame on the right
        CORNERS - [400, 0],  # entirely outside
    ],
)
def test_grid_partly_or_fully_outside_the_frame(corners):
    out = Overlay().draw(_gray_frame(), _result(corners.astype(np.float32)))
    assert out.shape == (270, 320, 3)
