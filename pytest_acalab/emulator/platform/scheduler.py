"""Events due at a point of (real, monotonic) time, run lazily before each request is handled.

Nothing in the emulator runs on a timer: state advances when somebody looks, which keeps it
deterministic and free of background threads, yet every event carries the time it was due, so
logs and timestamps read as if it had happened on time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    fn: Callable[[float], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Scheduler:
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._heap: list[_Event] = []
        self._seq = itertools.count()

    def at(self, due_monotonic: float, fn: Callable[[float], None]) -> _Event:
        """Run ``fn(due)`` once the monotonic clock has passed ``due``."""
        ev = _Event(due_monotonic, next(self._seq), fn)
        with self._lock:
            heapq.heappush(self._heap, ev)
        return ev

    def after(self, seconds: float, fn: Callable[[float], None]) -> _Event:
        return self.at(time.monotonic() + seconds, fn)

    def run_due(self, now: float | None = None) -> int:
        """Run every event due by ``now``, in due order (events may schedule further events)."""
        ran = 0
        with self._lock:
            while self._heap:
                t = time.monotonic() if now is None else now
                if self._heap[0].due > t:
                    break
                ev = heapq.heappop(self._heap)
                if not ev.cancelled:
                    ev.fn(ev.due)
                    ran += 1
        return ran

    def next_due(self) -> float | None:
        with self._lock:
            live = [e.due for e in self._heap if not e.cancelled]
            return min(live) if live else None

    def pending(self) -> int:
        with self._lock:
            return sum(1 for e in self._heap if not e.cancelled)
