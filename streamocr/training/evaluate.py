"""Validation figures of an ONNX digit model on the VALIDATION pages.

Cells are cut as the reader cuts them; a cell `isolate_digit` finds no ink in is read as
empty (class 0) without asking the model, as the reader does. Pages are cut with their true
outlines (``v2_train`` only) and with the corners `GridFinder` finds (both folders); a page
where no grid is found counts as a grid read wrongly and its cells as misread.

    python -m streamocr.training.evaluate [--model models/digits.onnx] [--failures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..recognize import DigitRecognizer
from ..resources import DEFAULT_MODEL
from .realcells import folder_cuts

SETTINGS = (("v2_train", "true"), ("v2_train", "detected"), ("mixed_train", "detected"))


def evaluate(
    model: Path | str = DEFAULT_MODEL, split: str = "validation", failures: bool = False, log=print
) -> dict:
    """Cell accuracy, grids fully right and confusion per (folder, corner source)."""
    recognizer = DigitRecognizer(model, device="cpu", threads=1)
    results = {}
    for folder, source in SETTINGS:
        confusion = np.zeros((10, 10), np.int64)
        pages = found = right = 0
        lost, kept_noise, misread, missing = [], [], [], []
        cells_ok = cells_total = 0
        tops, oks = [], []  # inked cells: top probability, read right
        for cuts in folder_cuts(folder, split, source, jitters=0):
            c = cuts[0]
            pages += 1
            cells_total += 81
            if c.source == "none":
                missing.append(c.page)
                continue
            found += 1
            probs = recognizer.recognize(c.inputs)
            pred = np.where(c.has_ink, probs.argmax(1), 0)
            truth = c.truth.astype(int)
            np.add.at(confusion, (truth, pred), 1)
            ok = pred == truth
            cells_ok += int(ok.sum())
            right += int(ok.all())
            tops.append(probs.max(axis=1)[c.has_ink])
            oks.append(ok[c.has_ink])
            for i in np.nonzero(~ok)[0]:
                where = f"{c.page}[r{i // 9 + 1}c{i % 9 + 1}]"
                if truth[i] > 0 and not c.has_ink[i]:
                    lost.append(f"{where} {truth[i]}")
                elif truth[i] == 0:
                    kept_noise.append(f"{where} ->{pred[i]} p={probs[i].max():.2f}")
                else:
                    misread.append(f"{where} {truth[i]}->{pred[i]} p={probs[i].max():.2f}")
        key = f"{folder}/{source}"
        res = {
            "pages": pages,
            "found": found,
            "grids_right": right,
            "cell_acc": cells_ok / max(1, cells_total),
            "cell_acc_found": cells_ok / max(1, 81 * found),
            "confusion": confusion,
            "lost": lost,
            "noise": kept_noise,
            "misread": misread,
            "missing": missing,
            "calibration": (np.concatenate(tops or [[]]), np.concatenate(oks or [[]])),
        }
        results[key] = res
        log(
            f"{key:24s} pages {pages:3d} found {found:3d}  grids fully right {right:3d}/{pages}"
            f"  cell acc {res['cell_acc']:.4f} (on found pages {res['cell_acc_found']:.4f})"
            f"  digits lost (no ink) {len(lost)}, empties read as digit {len(kept_noise)},"
            f" digits misread {len(misread)}"
        )
    return results


def format_confusion(confusion: np.ndarray) -> str:
    """The 10x10 confusion (rows truth, columns read) as text."""
    lines = ["truth\\read " + " ".join(f"{j:5d}" for j in range(10))]
    for i in range(10):
        lines.append(f"{i:10d} " + " ".join(f"{confusion[i, j]:5d}" for j in range(10)))
    return "\n".join(lines)


def format_calibration(top: np.ndarray, ok: np.ndarray) -> str:
    """How often inked cells read at each level of top probability are right, as text."""
    lines = ["top probability   cells  mean p  share right"]
    for lo, hi in ((0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)):
        sel = (top >= lo) & (top < hi)
        if sel.any():
            lines.append(
                f"{lo:.1f}-{min(hi, 1.0):.1f}      {int(sel.sum()):8d}  {top[sel].mean():6.2f}"
                f"  {ok[sel].mean():11.3f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--split", default="validation", choices=["validation", "train"])
    ap.add_argument("--failures", action="store_true", help="list every misread cell")
    args = ap.parse_args(argv)
    results = evaluate(args.model, args.split)
    for key, res in results.items():
        print(f"\n== {key}: confusion (rows truth, columns read; 0 = empty)")
        print(format_confusion(res["confusion"]))
        print("calibration (inked cells):")
        print(format_calibration(*res["calibration"]))
        if res["missing"]:
            print("grid not found:", " ".join(res["missing"]))
        if args.failures:
            for name in ("lost", "noise", "misread"):
                print(f"{name}: " + "; ".join(res[name]))


if __name__ == "__main__":
    main()
