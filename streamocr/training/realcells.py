"""Cells cut from the labelled photos, through the reader's own cell pipeline.

Printed pages (``v2_train``) are cut with their true outlines (``outlines.csv``); hand-filled
pages (``mixed_train``) with the corners `GridFinder` finds. Each page is cut several times
with its corners jittered (the detector is not perfect), every third of those from the page
smeared by motion blur (a hand-held pan), and pages whose cut does not match
their labels (a rotated photo, a wrong outline) are skipped rather than learnt from.

Only the training side of the by-page split is ever used for training; `page_cells` with
``split="validation"`` serves the evaluation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..cells import cell_inputs_from_warped
from ..dataset import LabelledPhoto, load_folder, read_outlines
from ..geometry import quad_side
from ..grid import GridFinder, homography_for, warp_grid
from ..preprocess import ink_gray
from ..types import GridDetection
from .render import MOTION_CELLS, motion_blur

# The labelled photos live beside the checkout, in shared/data (override: STREAMOCR_DATA).
_BESIDE_REPO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sudoku_photos"
DATA_ROOT = Path(os.environ.get("STREAMOCR_DATA", str(_BESIDE_REPO)))
CELL_PX = 40  # pixels per cell of the warped grid, as GridFinderSettings.warp_cell_px


def detection_for(corners: np.ndarray, cell_px: int = CELL_PX) -> GridDetection:
    """A `GridDetection` warping `corners` to a 9 * cell_px square."""
    size = 9 * cell_px
    corners = np.asarray(corners, np.float32)
    return GridDetection(corners=corners, homography=homography_for(corners, size), warp_size=size)


def cut(
    gray: np.ndarray, corners: np.ndarray, cell_px: int = CELL_PX
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs (81, 1, 28, 28) and ink flags (81,) of the grid at `corners` in `gray`."""
    return cell_inputs_from_warped(warp_grid(gray, detection_for(corners, cell_px)))


def alignment(truth: np.ndarray, has_ink: np.ndarray) -> tuple[float, float]:
    """Share of labelled digits that show ink, and share of labelled empties that do."""
    digits = truth > 0
    on_digits = float(has_ink[digits].mean()) if digits.any() else 1.0
    on_empties = float(has_ink[~digits].mean()) if (~digits).any() else 0.0
    return on_digits, on_empties


def looks_aligned(truth: np.ndarray, has_ink: np.ndarray) -> bool:
    """Whether a cut plausibly matches its labels (ink where digits are, little elsewhere)."""
    on_digits, on_empties = alignment(truth, has_ink)
    return on_digits >= 0.85 and on_empties <= 0.5


@dataclass
class PageCut:
    """One page cut once: where the corners came from, the inputs, ink flags and truth."""

    page: str
    folder: str
    source: str  # "true" (outlines.csv), "detected" (GridFinder) or "none" (not found)
    inputs: np.ndarray  # float32 (81, 1, 28, 28); zeros when not found
    has_ink: np.ndarray  # bool (81,)
    truth: np.ndarray  # int8 (81,)


def page_cuts(
    photo: LabelledPhoto,
    folder_name: str,
    corners_from: str,
    outlines: dict[str, np.ndarray] | None = None,
    finder: GridFinder | None = None,
    jitters: int = 0,
    jitter_frac: float = 0.015,
    rng: np.random.Generator | None = None,
) -> list[PageCut]:
    """Cut one photo: once with its corners, then `jitters` more times with jittered corners."""
    image = cv2.imread(str(photo.image_path), cv2.IMREAD_COLOR)  # applies EXIF orientation
    truth = photo.digits.astype(np.int8)
    empty = PageCut(
        photo.page,
        folder_name,
        "none",
        np.zeros((81, 1, 28, 28), np.float32),
        np.zeros(81, bool),
        truth,
    )
    if image is None:
        return [empty]
    if corners_from == "true":
        corners = (outlines or {}).get(photo.page)
        if corners is None:
            return [empty]
    else:
        detection = (finder or GridFinder()).detect(image)
        if detection is None:
            return [empty]
        corners = detection.corners
    gray = ink_gray(image)
    inputs, has_ink = cut(gray, corners)
    cuts = [PageCut(photo.page, folder_name, corners_from, inputs, has_ink, truth)]
    if jitters:
        rng = rng or np.random.default_rng(0)
        side = quad_side(corners)
        for k in range(jitters):
            moved = corners + rng.uniform(-jitter_frac, jitter_frac, size=(4, 2)) * side
            # Every third cut from the page smeared as by a hand-held camera's pan.
            page = gray
            if k % 3 == 2:
                length = rng.uniform(*MOTION_CELLS) * side / 9
                page = motion_blur(gray, length, rng.uniform(0, np.pi))
            inputs, has_ink = cut(page, moved.astype(np.float32))
            cuts.append(PageCut(photo.page, folder_name, corners_from, inputs, has_ink, truth))
    return cuts


def folder_cuts(
    folder_name: str,
    split: str,
    corners_from: str,
    jitters: int = 0,
    seed: int = 0,
) -> list[list[PageCut]]:
    """Cut every photo of one folder's `split`; one list of cuts per page (first unjittered)."""
    folder = DATA_ROOT / folder_name
    outlines = {page: c.astype(np.float32) for page, c in read_outlines(folder).items()}
    finder = GridFinder()
    rng = np.random.default_rng(seed)
    return [
        page_cuts(photo, folder_name, corners_from, outlines, finder, jitters, rng=rng)
        for photo in load_folder(folder, split=split)
    ]


def training_cells(
    jitters: int = 6,
    seed: int = 0,
    accept=None,
    log=print,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Labelled inked cells from the TRAINING pages of both folders.

    Args:
        jitters: extra jittered cuts per page.
        seed: seed of the corner jitter.
        accept: optional ``f(PageCut) -> bool``, a further check of a page's unjittered cut
            (e.g. that a first model mostly agrees with the labels).

    Returns:
        float16 (N, 1, 28, 28) inputs, int64 (N,) labels (0 where a labelled empty shows ink)
        and a summary of pages used and skipped. Cells without ink are left out: the reader
        calls them empty without asking the model.
    """
    xs, ys = [], []
    summary: dict = {}
    for folder_name, corners_from in (("v2_train", "true"), ("mixed_train", "detected")):
        used, skipped = 0, []
        for cuts in folder_cuts(folder_name, "train", corners_from, jitters, seed):
            first = cuts[0]
            if first.source == "none":
                skipped.append((first.page, "not found"))
                continue
            if not looks_aligned(first.truth, first.has_ink):
                on_d, on_e = alignment(first.truth, first.has_ink)
                skipped.append((first.page, f"ink on digits {on_d:.2f}, on empties {on_e:.2f}"))
                continue
            if accept is not None and not accept(first):
                skipped.append((first.page, "labels disagree with a first model"))
                continue
            used += 1
            for c in cuts:
                if not looks_aligned(c.truth, c.has_ink):
                    continue  # a jitter that slid the cut off the cells
                keep = c.has_ink
                xs.append(c.inputs[keep].astype(np.float16))
                ys.append(c.truth[keep].astype(np.int64))
        summary[folder_name] = {"used": used, "skipped": skipped}
        log(f"real cells {folder_name}: {used} pages used, {len(skipped)} skipped")
        for page, why in skipped:
            log(f"  skipped {folder_name}/{page}: {why}")
    x = np.concatenate(xs) if xs else np.zeros((0, 1, 28, 28), np.float16)
    y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    return x, y, summary
