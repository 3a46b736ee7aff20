"""Process-wide controls of a run: the libraries' thread pools, and signals as a clean stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from ..config import PipelineSettings


class Stoppable(Protocol):
    """Anything with a `stop(reason)`: a pipeline, or several."""

    def stop(self, reason: str = "request") -> None:
        """End the run soon."""
        ...


def budget_threads(settings: PipelineSettings) -> None:
    """Keep the libraries' own thread pools small: the stages already use the cores."""
    import cv2
    import numba

    cv2.setNumThreads(settings.cv_threads)
    try:
        numba.set_num_threads(min(settings.cv_threads, numba.config.NUMBA_NUM_THREADS))
    except ValueError:
        pass


@contextmanager
def stop_on_signals(pipeline: Stoppable) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `pipeline.stop()` while the block runs.

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
    previous = {}

    def handler(signum: int, _frame: Any) -> None:
        pipeline.stop(names.get(signum, str(signum)))

    for signum in names:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
