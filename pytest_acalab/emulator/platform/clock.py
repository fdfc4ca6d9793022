"""The one clock every provider asks how long things take.

Timestamps the emulator writes are real UTC wall-clock times, so clients can compute time windows
with their own clock exactly as they would against Azure. What the profile changes is how long an
operation *takes*: ``realistic`` uses durations measured on real Azure (the timestamps of the live
captures in github.com/yeongseon/azure-container-apps-practical-guide, labs/*/evidence/),
divided by ``speed``; ``fast`` makes every duration about zero (10,000 times shorter) while keeping
the order of events.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Seconds on real Azure, rounded from the captures (koreacentral, 2023-2026).
REALISTIC_SECONDS: dict[str, float] = {
    "resource_group.delete": 45.0,
    "deployment.overhead": 4.0,
    "workspace.create": 8.0,
    "registry.create": 12.0,
    "registry.import": 8.0,
    "acr.build": 35.0,
    "environment.create": 150.0,
    "app.create": 25.0,
    "app.update": 15.0,
    "app.validate": 6.0,
    "app.delete": 20.0,
    "replica.schedule": 2.0,
    "replica.pull": 2.5,
    "replica.start": 1.5,
    "revision.ready": 1.0,
    "logs.ingestion": 150.0,
    "eventstream.connect": 1.0,
    "storage.create": 2.0,  # recorded: the first poll after the 202 already answered the account
    "sourcecontrol.operation": 10.0,  # guess, not captured: Azure commits a workflow file to GitHub
}

FAST_DIVISOR = 10_000.0
PROFILES = ("fast", "realistic")


@dataclass
class Clock:
    profile: str = "fast"
    speed: float = 1.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    simulated_total: float = 0.0
    """Sum of the Azure-seconds of every duration handed out (for benchmarks)."""

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown clock profile {self.profile!r}; expected one of {', '.join(PROFILES)}")
        if self.speed <= 0:
            raise ValueError(f"clock speed must be positive, got {self.speed}")

    @property
    def divisor(self) -> float:
        return FAST_DIVISOR if self.profile == "fast" else self.speed

    def azure_seconds(self, operation: str) -> float:
        try:
            return REALISTIC_SECONDS[operation]
        except KeyError:
            raise KeyError(f"no duration known for operation {operation!r}") from None

    def duration(self, operation: str) -> float:
        """Real seconds the operation takes in this emulator."""
        return self.scale(self.azure_seconds(operation))

    def scale(self, azure_seconds: float) -> float:
        """Real seconds standing for ``azure_seconds`` seconds on Azure."""
        with self._lock:
            self.simulated_total += azure_seconds
        return azure_seconds / self.divisor

    def delta(self, operation: str) -> timedelta:
        return timedelta(seconds=self.duration(operation))

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    def sleep(self, real_seconds: float) -> None:
        """Used only by the emulator's own worker threads to let simulated time pass."""
        if real_seconds > 0:
            time.sleep(real_seconds)


def iso(dt: datetime) -> str:
    """Azure's timestamp form: ``2026-06-22T13:20:46.0916810Z`` (7 fractional digits)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0Z"


def wall_at(monotonic_time: float) -> datetime:
    """The wall-clock time at which a past (or future) monotonic instant falls."""
    return datetime.now(UTC) - timedelta(seconds=time.monotonic() - monotonic_time)
