"""Loading still photos (JPEG, PNG, ...) as BGR arrays, with clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import InputError


def load_image(path: Path | str) -> np.ndarray:
    """Load a photo as BGR uint8, turned upright by its EXIF orientation tag.

    Raises:
        InputError: the file is missing, unreadable or not an image.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can decode")
    return image
