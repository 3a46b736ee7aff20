"""Cell extraction: empty cells stay empty, digits are isolated and centred."""

import cv2
import numpy as np
import pytest

from streamocr.cells import (
    FAINT_PEAK,
    MODEL_SIDE,
    cell_inputs,
    cell_inputs_from_warped,
    ink_map,
    isolate_digit,
    isolate_digits,
)
from streamocr.grid import homography_for
from streamocr.synth.builders import PUZZLE, synthetic_photo
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


_remnant = ((slice(0, 27), slice(34, 40)), (slice(0, 3), slice(28, 40)))
_corner_lines = ((slice(1, 3), slice(26, 40)), (slice(0, 19), slice(37, 39)))
_seven_at_top = ((slice(0, 3), slice(12, 28)), (slice(0, 30), slice(24, 27)))


@pytest.mark.parametrize(
    "draw, expect_ink",
    [
        (lambda b: None, False),  # blank cell
        (lambda b: b.__setitem__((slice(0, 3), slice(None)), 255), False),  # grid line at top
        (lambda b: b.__setitem__((slice(19, 21), slice(19, 21)), 255), False),  # a speck
        (lambda b: b.__setitem__((slice(8, 32), slice(18, 22)), 255), True),  # a "1"
        # A remnant where a thick border line crosses another line: small, in the corner.
        (lambda b: b.__setitem__((slice(0, 15), slice(0, 9)), 255), False),
        # A "1" reaching the top edge (a large digit, a misplaced outline) is still one.
        (lambda b: b.__setitem__((slice(0, 26), slice(14, 20)), 255), True),
        # An edge cell's remnant of a bent outer line and the line crossing it (a real page,
        # image2, at 600p), read as a "1" in some frames: along the right border.
        (lambda b: [b.__setitem__(a, 255) for a in _remnant], False),
        # A "1" beside the border, not touching it, is still one.
        (lambda b: b.__setitem__((slice(8, 32), slice(29, 33)), 255), True),
        # Thin inner lines along the top and right borders, joined in the corner: an empty
        # cell cut a few pixels off (a printed page at 720p, read as a "7" in some frames).
        (lambda b: [b.__setitem__(a, 255) for a in _corner_lines], False),
        # A "7" whose bar touches the top edge reaches into the middle: still a digit.
        (lambda b: [b.__setitem__(a, 255) for a in _seven_at_top], True),
    ],
)
def test_isolate_digit_cases(draw, expect_ink):
    binary = np.zeros((40, 40), np.uint8)
    draw(binary)
    strength = binary.astype(np.float32) / 255
    _, has_ink = isolate_digit(binary, strength)
    assert has_ink is expect_ink


def test_each_cell_of_a_grid_is_isolated_as_if_it_were_cut_out_alone():
    # One labelling serves the whole grid: ink that runs across a cell's border (a digit
    # merged with the line beside it, a stroke reaching into the next cell) must be judged
    # in each cell on its own, as a cell cut out alone is.
    rng = np.random.default_rng(5)
    s = 40
    binary = np.zeros((3 * s, 3 * s), np.uint8)
    binary[10:30, 30:52] = 255  # a bar across the border of cells r0c0 and r0c1
    binary[45:115, 58:63] = 255  # a stroke down cells r1c1 and r2c1
    binary[70:75, 0:120] = 255  # a line across the middle row
    binary[(rng.random(binary.shape) < 0.05)] = 255  # specks everywhere
    for r, c, h, w in [(0, 2, 24, 6), (2, 0, 26, 14), (2, 2, 8, 30)]:
        binary[r * s + 8 : r * s + 8 + h, c * s + 10 : c * s + 10 + w] = 255
    strength = (
        binary.astype(np.float32) / 255 * rng.uniform(0.3, 1.0, binary.shape).astype(np.float32)
    )
    inputs, has_ink = isolate_digits(binary, strength, 3, 3)
    for i in range(9):
        r, c = divmod(i, 3)
        cell = (slice(r * s, (r + 1) * s), slice(c * s, (c + 1) * s))
        alone, ink = isolate_digit(np.ascontiguousarray(binary[cell]), strength[cell])
        assert has_ink[i] == ink
        np.testing.assert_array_equal(inputs[i], alone)
    assert 2 <= has_ink.sum() <= 8


@pytest.mark.parametrize("level", [1.0, 0.6, 0.2])
def test_ink_is_scaled_to_full_unless_faint_next_to_the_grid(level):
    # A digit a little lighter than the grid's ink is shown at full scale; ink far fainter
    # (print showing through from the back of the page) keeps its faintness for the model.
    binary = np.zeros((40, 40), np.uint8)
    binary[8:32, 16:24] = 255
    strength = binary.astype(np.float32) / 255 * level
    out, has_ink = isolate_digit(binary, strength)
    assert has_ink
    expected = 1.0 if level >= FAINT_PEAK else level / FAINT_PEAK
    assert out.max() == pytest.approx(expected, abs=0.02)


def _warped_grid_with_blob(line_offset_px=0):
    """A warped 9x9 grid (40 px cells) with one tall, blurred digit-like blob in cell r6c5,
    sitting on the cell's bottom line, as a small digit in dim, blurred footage does."""
    gray = np.full((360, 360), 200, np.uint8)
    for k in range(10):
        p = k * 40 + line_offset_px
        width = 3 if k % 3 == 0 else 1
        cv2.line(gray, (p, 0), (p, 359), 60, width)
        cv2.line(gray, (0, p), (359, p), 60, width)
    cv2.ellipse(gray, (180, 222), (9, 15), 0, 0, 360, 90, -1)
    cv2.rectangle(gray, (171, 222), (189, 240), 90, -1)  # merges with the line below
    return cv2.GaussianBlur(gray, (5, 5), 0)


def test_a_blurred_digit_touching_a_line_keeps_its_middle():
    binary, _ = ink_map(_warped_grid_with_blob(), 40)
    cell = binary[200:240, 160:200]
    assert cell[12:32, 17:24].all()  # no stripe cut down the digit's middle


@pytest.mark.parametrize("offset", [0, 6, 15])
def test_grid_lines_are_removed_even_off_their_expected_place(offset):
    # An outline a little off (or a curved page) puts the lines away from multiples of the
    # cell: lines running on over several cells still go.
    binary, _ = ink_map(_warped_grid_with_blob(offset), 40)
    rows = [k * 40 + offset for k in range(1, 9)]
    for p in rows:
        assert binary[p, 50:310].mean() < 0.1 * 255
        assert binary[50:310, p].mean() < 0.15 * 255


def _warped_grid(dash=0, gap=0):
    """A warped 9x9 grid of 40 px cells, paper 200; lines dashed when `dash` is given."""
    gray = np.full((360, 360), 200, np.uint8)
    for k in range(10):
        p, width = k * 40, (3 if k % 3 == 0 else 1)
        if not dash:
            cv2.line(gray, (p, 0), (p, 359), 60, width)
            cv2.line(gray, (0, p), (359, p), 60, width)
            continue
        for q in range(0, 360, dash + gap):
            cv2.line(gray, (p, q), (p, q + dash - 1), 120, width)
            cv2.line(gray, (q, p), (q + dash - 1, p), 120, width)
    return gray


@pytest.mark.parametrize("tint", [30, 70])
@pytest.mark.parametrize("region", ["box", "stroke"])
def test_shading_is_paper_and_the_digit_in_it_is_ink(region, tint):
    # A tinted 3x3 box, or a highlighter stroke along a row, with a fine hatching, and a
    # faint pen "1" in cell r5c5 (index 40): the shading is not ink, the stroke is.
    gray = _warped_grid().astype(np.int16)
    shaded = gray[121:239, 121:239] if region == "box" else gray[161:199, 121:239]
    hatch = np.add.outer(np.arange(shaded.shape[0]), np.arange(shaded.shape[1])) % 4 < 2
    shaded -= tint + 22 * hatch.astype(np.int16)
    gray = np.clip(gray, 0, 255).astype(np.uint8)
    cv2.line(gray, (180, 168), (182, 192), 75, 3)
    gray = cv2.GaussianBlur(gray, (3, 3), 0)
    _, has_ink = cell_inputs_from_warped(gray)
    assert has_ink[40]
    assert not has_ink[np.arange(81) != 40].any()


@pytest.mark.parametrize(("dash", "gap"), [(10, 3), (16, 3), (20, 4)])
@pytest.mark.parametrize("offset", [0, 5, 9])
def test_a_faint_dashed_grid_line_leaves_no_strokes_in_the_cells(dash, gap, offset):
    # A thin, faint line breaks into dashes when thresholded; its pieces must not be
    # left in the cells as strokes (an L at a cell's corner reads as a digit), also when
    # the lines lie a little off their expected place.
    gray = np.roll(_warped_grid(dash, gap), offset, axis=(0, 1))
    _, has_ink = cell_inputs_from_warped(gray)
    assert not has_ink.any()


@pytest.mark.parametrize("slant", [0.02, 0.03])
@pytest.mark.parametrize("offset", [0, 6])
def test_a_faint_line_bent_off_straight_leaves_no_strokes_in_the_cells(slant, offset):
    # A curved page: thin, faint, dashed lines running a pixel or two off straight over
    # a cell (`slant` px per px) are no straight runs, yet their pieces are no digits.
    gray = np.full((360, 360), 200, np.uint8)
    for k in range(10):
        p, width = k * 40 + offset, (3 if k % 3 == 0 else 1)
        for q in range(0, 360, 13):
            a, b = q, q + 9
            shift_a, shift_b = round(slant * (a - 180)), round(slant * (b - 180))
            cv2.line(gray, (p + shift_a, a), (p + shift_b, b), 120, width)
            cv2.line(gray, (a, p + shift_a), (b, p + shift_b), 120, width)
    _, has_ink = cell_inputs_from_warped(gray)
    assert not has_ink.any()


def test_a_faint_digit_in_an_edge_or_corner_cell_is_ink_as_in_the_middle():
    # Footage of a page with faint red digits: the "7" in the grid's corner cell was judged
    # against a neighbourhood darkened by the thick outer line repeated beyond the warped
    # grid's edge, and lost its strokes, while the same "7" in the middle was read.
    gray = np.full((360, 360), 200, np.uint8)
    for k in range(1, 9):
        p, width = k * 40, (3 if k % 3 == 0 else 1)
        cv2.line(gray, (p, 0), (p, 359), 90, width)
        cv2.line(gray, (0, p), (359, p), 90, width)
    for band in (np.s_[:6, :], np.s_[-6:, :], np.s_[:, :6], np.s_[:, -6:]):
        gray[band] = 90  # a thick outer border along the warped grid's edge
    cells = {(0, 0): 0, (4, 4): 40, (0, 8): 8, (8, 4): 76}
    for r, c in cells:
        origin = (c * 40 + 11, r * 40 + 32)
        cv2.putText(gray, "7", origin, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 150, 2, cv2.LINE_AA)
    inputs, has_ink = cell_inputs_from_warped(cv2.GaussianBlur(gray, (5, 5), 0))
    middle = (inputs[40] > 0.3).sum()
    for index in cells.values():
        assert has_ink[index]
        assert (inputs[index] > 0.3).sum() >= 0.5 * middle
