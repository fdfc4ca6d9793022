"""A backend is where labs run: the local emulator or real Azure.

It hands out one thing: how to reach Azure (credential, endpoints, TLS trust). Probes and actions
build the same SDK clients from it in both cases, so there is one code path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

ARM_SCOPE = "https://management.azure.com/.default"


@dataclass(frozen=True)
class Deadlines:
    """Default waits, in seconds, when a lab does not say ``within``."""

    probe: float
    action: float
    deployment: float
    teardown: float
    poll_interval: float
    """Pause between two probe attempts (tenacity's wait); the emulator's clock makes it small."""
    transient: float = 300.0
    """How long one lifecycle request (create/delete a group, deploy, read resources) may keep failing
    transiently (429, 5xx, resets) before the run gives up on it. ARM's throttling windows are five minutes."""


class Backend(ABC):
    name: str
    subscription_id: str
    location_override: str | None = None
    deadlines: Deadlines

    @abstractmethod
    def credential(self) -> Any: ...

    @abstractmethod
    def arm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments every azure-mgmt client takes (base_url, scopes, TLS trust)."""

    @abstractmethod
    def logs_endpoint(self) -> str: ...

    @abstractmethod
    def registry_endpoint(self, login_server: str) -> str:
        """The https URL that serves ``<name>.azurecr.io``'s data plane."""

    @property
    @abstractmethod
    def tls_verify(self) -> str | bool:
        """What ``requests`` / azure-core take as ``verify`` / ``connection_verify``."""

    def scale_wait(self, azure_seconds: float) -> float:
        """Real seconds to allow for a wait a lab states in Azure time (``within: 10m``)."""
        return azure_seconds

    def reaches(self, host: str) -> bool:
        """Whether an app's ingress host can be requested from here (Azure: yes; the emulator: loopback only)."""
        return True

    def settling(self, resource_group: str) -> bool:
        """Whether something in ``resource_group`` still moves in real time that a wait must allow for
        (the emulator: a workload process still starting; Azure: never, its waits are real already)."""
        return False

    def unmodelled(self, resource_group: str) -> list[str]:
        """What this backend could not model in ``resource_group`` (Azure: nothing; the emulator says)."""
        return []

    def secrets(self) -> set[str]:
        """Secret values known up front (scrubbed from every output)."""
        return set()

    def describe(self) -> dict[str, str]:
        return {"backend": self.name}

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
