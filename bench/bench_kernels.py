"""Numba against OpenCV for the ink-grayscale kernel, the ink gray from a decoded frame's
YUV planes against the BGR route, and the model's batch-of-81 time."""

from __future__ import annotations

import numpy as np

from streamocr.preprocess import ink_gray, ink_gray_opencv
from streamocr.recognize import DigitRecognizer

from .timing import time_ms


def bench_ink_gray() -> list[tuple[str, str]]:
    """Rows comparing the fused Numba kernel with OpenCV's split + min + min."""
    rows = []
    for w, h in ((640, 480), (1280, 720), (1920, 1080)):
        image = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        numba_ms = time_ms(lambda image=image: ink_gray(image))
        opencv_ms = time_ms(lambda image=image: ink_gray_opencv(image))
        rows.append(
            (
                f"ink gray {w}x{h}",
                f"numba {numba_ms:.3f} ms, OpenCV {opencv_ms:.3f} ms, "
                f"OpenCV/numba = {opencv_ms / numba_ms:.2f}x",
            )
        )
    return rows


def bench_ink_gray_yuv() -> list[tuple[str, str]]:
    """Rows comparing the ink gray made from a decoded frame's YUV planes (`streamocr.yuv`,
    what a file or stream source does) with converting it to BGR and taking the minimum."""
    import av

    from streamocr.yuv import YuvFrame, YuvInk

    rows = []
    for w, h in ((640, 480), (1280, 720), (1920, 1080)):
        frame = av.VideoFrame(w, h, "yuv420p")
        rng = np.random.default_rng(0)
        for plane in frame.planes:
            plane.update(rng.integers(0, 256, plane.buffer_size, dtype=np.uint8).tobytes())
        ink = YuvInk()
        YuvFrame(frame, ink).ink_gray()  # the first frame of a format is checked through BGR
        yuv_ms = time_ms(lambda frame=frame, ink=ink: YuvFrame(frame, ink).ink_gray())
        bgr_ms = time_ms(lambda frame=frame: ink_gray(frame.to_ndarray(format="bgr24")))
        rows.append(
            (
                f"ink gray of a decoded {w}x{h} frame",
                f"from its YUV planes {yuv_ms:.3f} ms, through BGR {bgr_ms:.3f} ms, "
                f"BGR/YUV = {bgr_ms / yuv_ms:.2f}x",
            )
        )
    return rows


def bench_model(threads: int = 1) -> list[tuple[str, str]]:
    """Rows with the median time of one batch of 81 cells through ONNX Runtime."""
    recognizer = DigitRecognizer(device="cpu", threads=threads)
    cells = np.random.default_rng(0).random((81, 1, 28, 28), dtype=np.float32)
    ms = time_ms(lambda: recognizer.recognize(cells), repeat=300)
    batch4 = np.concatenate([cells] * 4)
    ms4 = time_ms(lambda: recognizer.recognize(batch4), repeat=100)
    return [
        (f"model, 81 cells, CPU, {threads} thread(s)", f"{ms:.3f} ms per batch"),
        (
            f"model, 4 x 81 cells, CPU, {threads} thread(s)",
            f"{ms4:.3f} ms per batch ({ms4 / 4:.3f} ms per grid)",
        ),
    ]
