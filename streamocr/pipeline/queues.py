"""Bounded queues between the pipeline's stages, with the per-source full-queue policies."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

POLL_S = 0.1  # how often a waiting stage looks at the stop and abort flags


class Aborted(Exception):
    """Raised inside a stage when another stage failed and the run is being torn down."""


class StageQueue:
    """A bounded FIFO between two stages with a full-queue policy.

    Args:
        maxsize: capacity in items.
        drop_oldest: when full, drop the oldest item (and count it) instead of waiting.
        abort: set when the run is torn down; a waiting `put` or `get` then raises.
        ready: an event set on every `put`, for a consumer that serves several queues.
    """

    def __init__(
        self,
        maxsize: int,
        drop_oldest: bool,
        abort: threading.Event,
        ready: threading.Event | None = None,
    ) -> None:
        self.maxsize = maxsize
        self._ready = ready
        self.drop_oldest = drop_oldest
        self.dropped = 0
        self._items: deque[Any] = deque()
        self._abort = abort
        self._cond = threading.Condition()

    def put(self, item: Any) -> None:
        """Add an item, waiting (or dropping the oldest) when the queue is full."""
        with self._cond:
            while len(self._items) >= self.maxsize:
                if self.drop_oldest and item is not None:
                    self._items.popleft()
                    self.dropped += 1
                    break
                if self._abort.is_set():
                    raise Aborted
                self._cond.wait(POLL_S)
            self._items.append(item)
            self._cond.notify_all()
        if self._ready is not None:
            self._ready.set()

    def get(self, timeout_s: float | None = None) -> Any:
        """Remove the oldest item; wait for one up to `timeout_s` (then raise TimeoutError)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while not self._items:
                if self._abort.is_set():
                    raise Aborted
                wait_s = POLL_S
                if deadline is not None:
                    wait_s = min(wait_s, deadline - time.monotonic())
                    if wait_s <= 0:
                        raise TimeoutError
                self._cond.wait(wait_s)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def peek(self, most: int) -> list[Any]:
        """Up to `most` of the oldest items, left in the queue (for the consumer: it alone
        takes them out, so they stay there until it does)."""
        with self._cond:
            return [self._items[i] for i in range(min(most, len(self._items)))]

    def get_nowait(self) -> Any:
        """Remove the oldest item now; raise TimeoutError when there is none."""
        with self._cond:
            if not self._items:
                raise TimeoutError
            item = self._items.popleft()
            self._cond.notify_all()
            return item
