"""The labelled photo format (imageN.jpg + imageN.dat) and the fixed train/validation split.

The split is by page: a page's name (``image123``) decides its side, so the printed photo in
``v2_train/`` and the hand-filled photo of the same page in ``mixed_train/`` always fall on
the same side. One page in five is validation, chosen by a stable hash of the name.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

VALIDATION_SHARE = 5  # one page in VALIDATION_SHARE is held out


@dataclass(frozen=True)
class LabelledPhoto:
    """One photo with its true digits (81, row by row, 0 = empty)."""

    image_path: Path
    digits: np.ndarray

    @property
    def page(self) -> str:
        """The page's name, shared by the printed and hand-filled photos of one page."""
        return self.image_path.stem


def is_validation_page(page: str) -> bool:
    """Whether a page belongs to the validation side of the split."""
    digest = hashlib.sha1(page.encode()).digest()
    return digest[0] % VALIDATION_SHARE == 0


def read_truth(dat_path: Path) -> np.ndarray:
    """Read the 81 true digits of a ``.dat`` file (two header lines, then 9 rows)."""
    try:
        lines = dat_path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {dat_path}: {exc.strerror}") from exc
    values = [tok for line in lines[2:] for tok in line.split()]
    if len(values) < 81 or not all(v.isdigit() for v in values[:81]):
        raise InputError(f"{dat_path}: expected 9 rows of 9 digits after two header lines")
    return np.array([int(v) for v in values[:81]], dtype=np.int8)


def read_outlines(folder: Path | str) -> dict[str, np.ndarray]:
    """The true grid corners (4, 2) of a folder's photos, by page name, from its
    ``outlines.csv`` (empty without one)."""
    path = Path(folder) / "outlines.csv"
    if not path.is_file():
        return {}
    outlines = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            page = Path(row["filepath"]).stem
            pts = [float(row[f"p{i}_{a}"]) for i in range(1, 5) for a in ("x", "y")]
            outlines[page] = np.array(pts).reshape(4, 2)
    return outlines


def read_page(folder: Path | str, page: str) -> tuple[np.ndarray, np.ndarray, str]:
    """One labelled page of a folder: the photo (BGR), its true grid corners (4, 2) and its
    81 digits as a string (0 = empty)."""
    import cv2

    folder = Path(folder)
    photo = cv2.imread(str(folder / f"{page}.jpg"))
    if photo is None:
        raise FileNotFoundError(f"no photo {folder / page}.jpg")
    outline = read_outlines(folder)[page]
    digits = "".join(str(int(d)) for d in read_truth(folder / f"{page}.dat"))
    return photo, outline, digits


def load_folder(folder: Path | str, split: str = "all") -> list[LabelledPhoto]:
    """List the labelled photos of a folder.

    Args:
        folder: a directory holding ``imageN.jpg`` and ``imageN.dat`` pairs.
        split: "all", "train" or "validation".
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a directory")
    if split not in ("all", "train", "validation"):
        raise ValueError(f"split must be 'all', 'train' or 'validation', got {split!r}")
    photos = []
    for dat in sorted(folder.glob("*.dat"), key=lambda p: (len(p.stem), p.stem)):
        image = next(
            (
                dat.with_suffix(s)
                for s in (".jpg", ".jpeg", ".png", ".JPG")
                if dat.with_suffix(s).exists()
            ),
            None,
        )
        if image is None:
            continue
        if split != "all" and is_validation_page(dat.stem) != (split == "validation"):
            continue
        photos.append(LabelledPhoto(image, read_truth(dat)))
    return photos
