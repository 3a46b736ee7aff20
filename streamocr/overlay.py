"""Drawing a result back onto the video frame: grid outline, givens, solved digits.

What is drawn never claims more than is known: cells still undecided (a grid being
acquired) get no mark at all, an unsolvable or rule-breaking reading gets its own outline
colour and its doubtful cells a mark of their own, and no solution digits.

Digits are drawn on a flat, square canvas the size of the warped grid and warped back into
the frame through the grid's homography, so they lie in the page's perspective; the canvas
is only warped over the grid's bounding box, which keeps the cost per frame small.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .types import PuzzleResult, Reading

BGR = tuple[int, int, int]


@dataclass(frozen=True)
class OverlayStyle:
    """Colours (BGR) and sizes of the overlay.

    Attributes:
        given_color: outline of the cells read as givens, and their small read digit.
        solved_color: digits filled in from the solution.
        outline_color: the grid's outline when it was solved.
        unsolved_color: the grid's outline when the reading has no solution.
        pending_color: the grid's outline while its reading is still being confirmed.
        doubtful_color: the mark on doubtful cells of a reading without a solution.
        canvas_cell_px: pixels per cell of the flat canvas the digits are drawn on.
        show_read_digits: also write the digit read in each given cell, small, in a corner.
    """

    given_color: BGR = (60, 200, 60)
    solved_color: BGR = (230, 90, 20)
    outline_color: BGR = (60, 200, 60)
    unsolved_color: BGR = (0, 140, 255)
    pending_color: BGR = (200, 200, 200)
    doubtful_color: BGR = (40, 40, 230)
    canvas_cell_px: int = 48
    show_read_digits: bool = False

    def __post_init__(self) -> None:
        if not 16 <= self.canvas_cell_px <= 128:
            raise ValueError(f"canvas_cell_px must be in [16, 128], got {self.canvas_cell_px}")


class Overlay:
    """Draws a `PuzzleResult` onto a BGR frame; draws nothing when no grid was found.

    Example:
        >>> annotated = Overlay().draw(frame.image, result)
    """

    def __init__(self, style: OverlayStyle | None = None) -> None:
        self.style = style or OverlayStyle()

    def draw(self, image: np.ndarray, result: PuzzleResult) -> np.ndarray:
        """Return a copy of `image` with the result drawn on it."""
        return self.draw_all(image, [result])

    def draw_all(self, image: np.ndarray, results: list[PuzzleResult]) -> np.ndarray:
        """Return a copy of `image` with every result (one per grid) drawn on it."""
        out = image.copy()
        for result in results:
            self._draw_into(out, result)
        return out

    def _draw_into(self, out: np.ndarray, result: PuzzleResult) -> None:
        image = out
        if result.detection is None:
            return
        style = self.style
        corners = result.detection.corners.astype(np.float32)
        if result.reading is not None:
            canvas, mask = self._digit_canvas(result, result.reading)
            _paste_warped(out, canvas, mask, corners)
        if result.solution is not None:
            color = style.outline_color
        elif result.status == "pending":
            color = style.pending_color
        else:
            color = style.unsolved_color
        thickness = max(2, round(min(image.shape[:2]) / 240))
        cv2.polylines(
            out,
            [np.round(corners * 16).astype(np.int32).reshape(-1, 1, 2)],
            True,
            color,
            thickness,
            cv2.LINE_AA,
            shift=4,
        )

    def _digit_canvas(
        self, result: PuzzleResult, reading: Reading
    ) -> tuple[np.ndarray, np.ndarray]:
        """The flat square drawing (BGR) and its coverage mask (uint8, 0..255)."""
        style = self.style
        cell = style.canvas_cell_px
        side = 9 * cell
        canvas = np.zeros((side, side, 3), np.uint8)
        mask = np.zeros((side, side), np.uint8)
        font = cv2.FONT_HERSHEY_DUPLEX
        digits = reading.digits
        solution = result.solution
        undecided = set(result.undecided)
        doubtful = set(result.doubtful) if solution is None and not undecided else set()
        big_scale = cell / 40.0
        small_scale = cell / 120.0
        inset = max(2, cell // 12)
        for i in range(81):
            r, c = divmod(i, 9)
            x0, y0 = c * cell, r * cell
            if i in undecided:
                continue
            if i in doubtful:
                box = ((x0 + inset, y0 + inset), (x0 + cell - inset, y0 + cell - inset))
                for target, value in ((canvas, style.doubtful_color), (mask, 255)):
                    cv2.rectangle(target, *box, value, max(2, cell // 12), cv2.LINE_AA)
                    cv2.line(target, box[0], box[1], value, max(1, cell // 24), cv2.LINE_AA)
            elif digits[i] != 0:
                box = ((x0 + inset, y0 + inset), (x0 + cell - inset, y0 + cell - inset))
                for target, value in ((canvas, style.given_color), (mask, 255)):
                    cv2.rectangle(target, *box, value, max(1, cell // 24), cv2.LINE_AA)
                if style.show_read_digits:
                    _put_text(
                        canvas,
                        mask,
                        str(int(digits[i])),
                        (x0 + 2 * inset, y0 + 2 * inset),
                        small_scale,
                        style.given_color,
                        font,
                        anchor="topleft",
                    )
            elif solution is not None:
                _put_text(
                    canvas,
                    mask,
                    str(int(solution[i])),
                    (x0 + cell // 2, y0 + cell // 2),
                    big_scale,
                    style.solved_color,
                    font,
                    anchor="center",
                )
        return canvas, mask


def _put_text(
    canvas: np.ndarray,
    mask: np.ndarray,
    text: str,
    at: tuple[int, int],
    scale: float,
    color: BGR,
    font: int,
    anchor: str,
) -> None:
    thickness = max(1, round(scale * 2))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    if anchor == "center":
        origin = (at[0] - tw // 2, at[1] + th // 2)
    else:
        origin = (at[0], at[1] + th)
    cv2.putText(canvas, text, origin, font, scale, color, thickness, cv2.LINE_AA)
    cv2.putText(mask, text, origin, font, scale, 255, thickness, cv2.LINE_AA)


def _paste_warped(
    image: np.ndarray, canvas: np.ndarray, mask: np.ndarray, corners: np.ndarray
) -> None:
    """Warp `canvas` onto the quadrilateral `corners` of `image`, blended by `mask`."""
    h, w = image.shape[:2]
    x0 = int(max(0, np.floor(corners[:, 0].min())))
    y0 = int(max(0, np.floor(corners[:, 1].min())))
    x1 = int(min(w, np.ceil(corners[:, 0].max()) + 1))
    y1 = int(min(h, np.ceil(corners[:, 1].max()) + 1))
    if x1 <= x0 or y1 <= y0:
        return  # the grid lies entirely outside the frame
    side = canvas.shape[0]
    square = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32)
    homography = cv2.getPerspectiveTransform(square, corners - np.array([x0, y0], np.float32))
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(canvas, homography, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(mask, homography, size, flags=cv2.INTER_LINEAR)
    alpha = (alpha.astype(np.float32) / 255.0)[..., None]
    roi = image[y0:y1, x0:x1]
    blended = roi.astype(np.float32) * (1.0 - alpha) + warped.astype(np.float32) * alpha
    roi[:] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
