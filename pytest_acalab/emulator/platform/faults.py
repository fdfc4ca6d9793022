"""Fault injection: a share of ARM requests answered 429 / 503 / connection reset, and Azure's races.

Off by default. Used to prove that the plugin retries transient failures within its deadlines and
reports persistent ones clearly, and that a lab's filters hold when one of Azure's occasional races
happens (``teardown_scale_race``). Deterministic for a given seed.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("429", "503", "reset")
STALL_FACTOR = 3.0
"""A stalled long-running operation takes this many times its normal duration before it fails."""


@dataclass
class Faults:
    share: float = 0.0
    kinds: tuple[str, ...] = KINDS
    seed: int = 0
    stall_then_fail: float = 0.0
    """Share of long-running operations that stall (take 3x longer) and then fail."""
    retry_after: float = 1.0
    """Seconds the 429/503 answers ask the client to wait (ARM commonly asks for seconds)."""
    teardown_scale_race: float = 0.0
    """Share of revision teardowns in which the HPA syncs after the revision's Deployment is deleted and
    before KEDA removes the ScaledObject, logging ``FailedGetScale`` (Azure: 1 of the 10 teardowns captured in
    the Practical Guide's evidence; off by default so that runs are reproducible)."""
    injected: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(self, share: float, kinds: tuple[str, ...] = KINDS, seed: int = 0,
                  stall_then_fail: float = 0.0, retry_after: float = 1.0, teardown_scale_race: float = 0.0) -> None:
        """``retry_after``: what the 429/503 answers ask for, in seconds; below one second it is sent as
        ``retry-after-ms`` so fast tests do not sleep a second per injected fault."""
        if not all(0.0 <= x <= 1.0 for x in (share, stall_then_fail, teardown_scale_race)):
            raise ValueError("fault shares must be between 0 and 1")
        if retry_after < 0:
            raise ValueError(f"retry_after must be >= 0 seconds, got {retry_after}")
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; expected some of {', '.join(KINDS)}")
        with self._lock:
            self.share, self.kinds, self.seed = share, tuple(kinds), seed
            self.stall_then_fail, self.retry_after = stall_then_fail, retry_after
            self.teardown_scale_race = teardown_scale_race
            self._rng = random.Random(seed)
            self.injected = {}

    def retry_headers(self) -> dict[str, str]:
        """``Retry-After`` (whole seconds) or, below a second, ``retry-after-ms`` alone: azure-core reads
        ``Retry-After`` first, and ``Retry-After: 0`` would make it fall back to its own exponential backoff."""
        if self.retry_after >= 1:
            return {"Retry-After": str(round(self.retry_after))}
        return {"retry-after-ms": str(max(int(self.retry_after * 1000), 1))}

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
        return self._draw("stall_then_fail", self.stall_then_fail)

    def draw_teardown_scale_race(self) -> bool:
        """Whether this revision's teardown meets the HPA's sync (see ``teardown_scale_race``)."""
        return self._draw("teardown_scale_race", self.teardown_scale_race)

    def _draw(self, kind: str, share: float) -> bool:
        """True for ``share`` of the draws (counted in ``injected``); never when the share is 0."""
        if share <= 0:
            return False
        with self._lock:
            if self._rng.random() >= share:
                return False
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return True

    def as_dict(self) -> dict[str, Any]:
        """The switch's settings and what it injected so far (``GET /acalab/faults``)."""
        with self._lock:
            return {"share": self.share, "kinds": list(self.kinds), "seed": self.seed,
                    "stall_then_fail": self.stall_then_fail, "retry_after": self.retry_after,
                    "teardown_scale_race": self.teardown_scale_race,
                    "injected": dict(self.injected)}
