"""What happens once a container's image has been pulled: the one seam for running workloads.

Today the emulator takes every pulled container to start and listen on its target port. A later
issue will run the image's entrypoint for real; it only has to provide another ``ContainerRuntime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_acalab.emulator.app import syslog


@dataclass(frozen=True)
class RuntimeEvent:
    reason: str
    message: str
    type: str = syslog.NORMAL


@dataclass
class StartOutcome:
    running: bool
    """True when the container runs (and listens where ingress expects it)."""
    events: list[RuntimeEvent] = field(default_factory=list)
    details: str | None = None
    """``runningStateDetails`` for the revision when not running (e.g. a port mismatch)."""


class ContainerRuntime(Protocol):
    def start(self, replica: str, image: str, config: dict[str, Any]) -> StartOutcome:
        """Start container ``config["name"]`` of ``replica`` from ``image``; ``config`` is the container spec
        plus ``targetPort`` (ingress) when the app has ingress."""
        ...


class AssumeListening:
    """Every container starts and listens on its target port."""

    def start(self, replica: str, image: str, config: dict[str, Any]) -> StartOutcome:
        name = str(config.get("name"))
        return StartOutcome(True, [RuntimeEvent(syslog.CONTAINER_CREATED, syslog.container_created(name)),
                                   RuntimeEvent(syslog.CONTAINER_STARTED, syslog.container_started(name))])
