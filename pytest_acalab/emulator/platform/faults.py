"""Fault injection: a share of ARM requests answered 429 / 503 / connection reset.

Off by default. Used to prove that the plugin retries transient failures within its deadlines and
reports persistent ones clearly. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

KINDS = ("429", "503", "reset")


@dataclass
class Faults:
    share: float = 0.0
    kinds: tuple[str, ...] = KINDS
    seed: int = 0
    stall_then_fail: float = 0.0
    """Share of long-running operations that stall (take 3x longer) and then fail."""
    injected: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(self, share: float, kinds: tuple[str, ...] = KINDS, seed: int = 0,
                  stall_then_fail: float = 0.0) -> None:
        if not 0.0 <= share <= 1.0 or not 0.0 <= stall_then_fail <= 1.0:
            raise ValueError("fault shares must be between 0 and 1")
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; expected some of {', '.join(KINDS)}")
        self.share, self.kinds, self.seed, self.stall_then_fail = share, tuple(kinds), seed, stall_then_fail
        self._rng = random.Random(seed)

    def draw(self) -> str | None:
        """The fault to inject into this request, if any."""
        if self.share <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.share:
                return None
            kind = self._rng.choice(self.kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def draw_stall(self) -> bool:
        if self.stall_then_fail <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.stall_then_fail
