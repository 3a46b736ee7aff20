"""The digit model: one ONNX Runtime session, all cells of one or more grids in one batch.

The model (``models/digits.onnx``, shipped in the package as `streamocr.resources.DEFAULT_MODEL`)
takes float32 ``cells`` of shape (N, 1, 28, 28), as made by `streamocr.cells`, and returns
``logits`` of shape (N, 10): class 0 is an empty cell, classes 1..9 the digits. Batches are
padded to a fixed size so the session sees few shapes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .errors import ModelError
from .resources import DEFAULT_MODEL
from .types import DIGIT_CLASSES

log = logging.getLogger(__name__)


def gpu_present() -> bool:
    """Whether an NVIDIA GPU is visible, checked without touching CUDA libraries."""
    if os.environ.get("STREAMOCR_NO_GPU"):
        return False
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(
        Path("/proc/driver/nvidia/gpus").iterdir()
    )


def choose_providers(device: str = "auto") -> list[str]:
    """ONNX Runtime execution providers for `device` ("auto", "cpu" or "cuda").

    CUDA is only asked for when a GPU is present: asking for it on a machine without one
    makes ONNX Runtime log a load error before it falls back.
    """
    import onnxruntime as ort

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    available = ort.get_available_providers()
    want_cuda = device == "cuda" or (device == "auto" and gpu_present())
    if want_cuda and "CUDAExecutionProvider" in available:
        if hasattr(ort, "preload_dlls"):
            try:
                ort.preload_dlls()
            except Exception as exc:  # noqa: BLE001 - the CPU path still works
                log.warning("could not preload CUDA libraries: %s", exc)
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise ModelError("CUDA was asked for but this ONNX Runtime has no CUDA provider or no GPU")
    return ["CPUExecutionProvider"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


MIN_BATCH_CELLS = 16  # least cells of a video path's model call (padded to powers of two)


class DigitRecognizer:
    """Classifies cell images with the ONNX digit model.

    Args:
        model_path: the ``.onnx`` file.
        device: "auto" (CUDA when a GPU is present), "cpu" or "cuda".
        threads: intra-op threads for the CPU provider (0 lets ONNX Runtime choose).
        batch_quantum: batches are padded up to a multiple of this many cells (the
            video paths pad their own calls to powers of two: `stream.recognize_grids`).
        max_batch: most cells in one model call; a larger request runs in several calls
            (default: 324 on the CPU, 4 grids' worth, where ONNX Runtime's memory grows
            with the batch, about 0.12 MB a cell, and keeps its peak; 4096 on CUDA).

    Example:
        >>> recognizer = DigitRecognizer()
        >>> probabilities = recognizer.recognize(inputs)  # (N, 10)
    """

    def __init__(
        self,
        model_path: Path | str = DEFAULT_MODEL,
        device: str = "auto",
        threads: int = 1,
        batch_quantum: int = 1,
        max_batch: int | None = None,
    ) -> None:
        import onnxruntime as ort

        model_path = Path(model_path)
        if not model_path.is_file():
            raise ModelError(f"digit model not found: {model_path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(0, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.providers = choose_providers(device)
        self.on_cuda = self.providers[0] == "CUDAExecutionProvider"
        # cuDNN's default exhaustive search times every convolution algorithm on each new
        # batch shape: 60-110 ms a shape on an H200 (445 ms the first), hundreds of this
        # small model's calls; its heuristic choice took 10-25 ms and ran as fast after.
        providers: list[str | tuple[str, dict[str, str]]] = [
            (name, {"cudnn_conv_algo_search": "HEURISTIC"})
            if name == "CUDAExecutionProvider"
            else name
            for name in self.providers
        ]
        try:
            self.session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=providers
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load digit model {model_path}: {first}") from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [1, 28, 28]:
            raise ModelError(f"{model_path}: expected one input of shape (N, 1, 28, 28)")
        self.input_name = inputs[0].name
        self.batch_quantum = max(1, batch_quantum)
        if max_batch is None:
            max_batch = 4096 if self.on_cuda else 324
        # Whole quanta, so every call but the last is a full, fixed shape.
        self.max_batch = max(1, max_batch // self.batch_quantum) * self.batch_quantum

    def warm_shapes(self) -> list[int]:
        """The batch sizes `warm_up` runs: on CUDA every padded size of the video paths
        (`padded_size`, up to `max_batch`), whose first call each sets up its kernels;
        on the CPU one call of four grids, which loads the session."""
        if not self.on_cuda:
            return [min(4 * 81, self.max_batch)]
        sizes = [MIN_BATCH_CELLS]
        while sizes[-1] < self.max_batch:
            sizes.append(min(2 * sizes[-1], self.max_batch))
        return sizes

    def warm_up(self) -> None:
        """Run the model once on each of `warm_shapes`, so no stream's frame waits for a
        shape's first call."""
        for size in self.warm_shapes():
            self.recognize(np.zeros((size, 1, 28, 28), np.float32))

    def recognize(self, cells: np.ndarray) -> np.ndarray:
        """Return float32 (N, 10) class probabilities for float32 (N, 1, 28, 28) cells."""
        n = cells.shape[0]
        if cells.ndim != 4 or cells.shape[1:] != (1, 28, 28):
            raise ValueError(f"cells must have shape (N, 1, 28, 28), got {cells.shape}")
        if n == 0:
            return np.zeros((0, DIGIT_CLASSES), np.float32)
        if n > self.max_batch:
            # Several streams' frames at once: bounded calls keep the model's memory bounded.
            return np.concatenate(
                [self.recognize(cells[i : i + self.max_batch]) for i in range(0, n, self.max_batch)]
            )
        padded_n = -(-n // self.batch_quantum) * self.batch_quantum
        batch = np.zeros((padded_n, 1, 28, 28), np.float32)
        batch[:n] = cells
        (logits,) = self.session.run(None, {self.input_name: batch})
        return softmax(np.asarray(logits, np.float32)[:n])


def padded_size(count: int, least: int = MIN_BATCH_CELLS) -> int:
    """`least` doubled until it holds `count` cells: the padded size of a model call, so
    the model session sees few shapes."""
    size = least
    while size < count:
        size *= 2
    return size


def recognize_inked(
    recognizer: DigitRecognizer,
    grids: list[tuple[np.ndarray, np.ndarray]],
    least: int | None = None,
) -> list[np.ndarray]:
    """Class probabilities of the cells of several grids, from one model call on their
    inked cells only.

    A cell without ink is empty for every reader of the probabilities (the stabiliser and
    `reader.reading_from_probabilities` set it so): only inked cells go to the model,
    about a third of a grid's, and a cell without ink gets class 0 for certain.

    Args:
        grids: per grid, its cells (R * 81, 1, 28, 28) and which hold ink (R * 81,).
        least: pad the call to a power of two of cells, this many at least (few shapes
            for the model session); None: no padding.

    Returns:
        Per grid, float32 (R * 81, 10); no model call when no cell holds ink.
    """
    rows = [np.flatnonzero(has_ink) for _, has_ink in grids]
    total = sum(len(r) for r in rows)
    inked = np.zeros((0, DIGIT_CLASSES), np.float32)
    if total:
        size = total if least is None else padded_size(total, least)
        inputs = np.zeros((size, 1, 28, 28), np.float32)
        start = 0
        for (cells, _), r in zip(grids, rows, strict=True):
            inputs[start : start + len(r)] = cells[r]
            start += len(r)
        inked = recognizer.recognize(inputs)[:total]
    out = []
    start = 0
    for (cells, _), r in zip(grids, rows, strict=True):
        probabilities = np.zeros((len(cells), DIGIT_CLASSES), np.float32)
        probabilities[:, 0] = 1.0
        probabilities[r] = inked[start : start + len(r)]
        out.append(probabilities)
        start += len(r)
    return out
