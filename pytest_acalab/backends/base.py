"""A backend is where labs run: the local emulator or real Azure.

It hands out how to reach Azure (credential, endpoints, TLS trust, the options every SDK client takes) and
how time runs there (its clock's divisor and the deadlines derived from it), plus the few facts the
lifecycle needs (whether a group deletion is awaited, where a kept group can be found). Probes, actions
and the lifecycle build the same SDK clients from it in both cases, so there is one code path, and none of
them asks which backend it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

ARM_SCOPE = "https://management.azure.com/.default"

DEFAULT_MIN_WAIT = 10.0
"""The least real time (seconds) a stated wait gets on a fast clock, so a loaded machine does not turn a pass
into a timeout (``--acalab-min-wait``)."""


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

    @classmethod
    def azure(cls) -> Deadlines:
        """Azure's own pace: ten minutes for a probe, half an hour for an action or a deployment."""
        return cls(probe=600.0, action=1800.0, deployment=1800.0, teardown=60.0, poll_interval=10.0,
                   transient=300.0)

    @classmethod
    def for_clock(cls, divisor: float, min_wait: float | None = None) -> Deadlines:
        """Azure's deadlines on a clock running ``divisor`` times faster, each kept above a floor of real
        seconds (``min_wait``, default ``DEFAULT_MIN_WAIT``); polls every 5 Azure-seconds, within [5 ms, 0.5 s]."""
        floor = DEFAULT_MIN_WAIT if min_wait is None else min_wait
        azure = cls.azure()
        return cls(
            probe=max(azure.probe / divisor, floor), action=max(azure.action / divisor, 3 * floor),
            deployment=max(azure.deployment / divisor, 60.0), teardown=azure.teardown,
            poll_interval=min(max(5 / divisor, 0.005), 0.5), transient=max(azure.transient / divisor, floor / 2),
        )


class Backend(ABC):
    name: str
    subscription_id: str
    location_override: str | None = None
    deadlines: Deadlines
    clock_divisor: float = 1.0
    """How many times faster than Azure this backend's clock runs (Azure: 1; the emulator: its clock's)."""
    awaits_group_deletion: bool = False
    """Whether teardown waits for a resource group's deletion to finish (Azure: no, it takes minutes and
    the run does not need it; the emulator: yes, so a run leaves nothing behind in it)."""

    @abstractmethod
    def credential(self) -> Any: ...

    @abstractmethod
    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every azure-mgmt client takes (base_url, scopes, TLS trust, polling pace)."""

    def data_plane_options(self) -> dict[str, Any]:
        """Keyword arguments the data-plane clients take (Log Analytics, the registry's OCI API)."""
        return {}

    @abstractmethod
    def logs_endpoint(self) -> str: ...

    @abstractmethod
    def registry_endpoint(self, login_server: str) -> str:
        """The https URL that serves ``<name>.azurecr.io``'s data plane."""

    @property
    @abstractmethod
    def tls_verify(self) -> str | bool:
        """What ``requests`` / azure-core take as ``verify`` / ``connection_verify``."""

    @abstractmethod
    def kept_group_location(self) -> str:
        """Where a resource group kept after the run can be reached (for the teardown note)."""

    def scale_wait(self, azure_seconds: float) -> float:
        """Real seconds to allow for a wait a lab states in Azure time (``within: 10m``): the clock runs it
        ``clock_divisor`` times faster, yet it keeps a floor of real seconds (on Azure: the wait itself)."""
        return max(azure_seconds / self.clock_divisor, min(azure_seconds, self.deadlines.probe))

    def window_seconds(self, azure_seconds: float) -> float:
        """Real seconds of a fixed observation window a lab states in Azure time (``wait: 60s``, a load's
        ``duration``): the clock runs it ``clock_divisor`` times faster, with no floor (nothing is polled)."""
        return azure_seconds / max(self.clock_divisor, 1e-9)

    def reaches(self, host: str) -> bool:
        """Whether an app's ingress host can be requested from here (Azure: yes; the emulator: the hosts it serves)."""
        return True

    def http_settings(self) -> dict[str, Any]:
        """What ``requests`` takes to reach an app's ingress by its real host name: ``verify``, and on the
        emulator the ``proxies`` that route that name to its loopback edge (the URL stays the same)."""
        return {"verify": True, "proxies": None}

    def settling(self, resource_group: str) -> bool:
        """Whether something in ``resource_group`` still moves in real time that a wait must allow for
        (the emulator: a workload process still starting; Azure: never, its waits are real already)."""
        return False

    def unmodelled(self, resource_group: str) -> list[str]:
        """What this backend could not model in ``resource_group`` (Azure: nothing; the emulator says)."""
        return []

    def secrets(self) -> set[str]:
        """Secret values known so far (scrubbed from every output)."""
        return set()

    def describe(self) -> dict[str, str]:
        return {"backend": self.name}

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
