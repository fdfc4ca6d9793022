"""The Azure SDK clients probes and actions use, built lazily from a backend and cached.

Importing the SDKs costs about half a second, so nothing here is imported until a lab runs.
"""

from __future__ import annotations

import functools
from typing import Any

from pytest_acalab.backends.base import Backend


class Clients:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._registry: dict[str, Any] = {}

    def _mgmt(self, cls: type, **extra: Any) -> Any:
        kwargs = {**self.backend.arm_kwargs(), **extra}
        if self.backend.name == "emulator":
            kwargs.setdefault("polling_interval", 0)
            # azure-core backs off 0.8 s x 2^n between retries without Retry-After (connection resets):
            # Azure time, which the emulator's clock runs faster
            kwargs.setdefault("retry_backoff_factor", max(0.8 / getattr(self.backend, "divisor", 1.0), 0.01))
        return cls(self.backend.credential(), self.backend.subscription_id, **kwargs)

    @functools.cached_property
    def resources(self) -> Any:
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.mgmt.resource.resources import ResourceManagementClient

        return self._mgmt(ResourceManagementClient)

    @functools.cached_property
    def deployments(self) -> Any:
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.mgmt.resource.deployments import DeploymentsMgmtClient

        return self._mgmt(DeploymentsMgmtClient)

    @functools.cached_property
    def apps(self) -> Any:
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.mgmt.appcontainers import ContainerAppsAPIClient

        return self._mgmt(ContainerAppsAPIClient)

    @functools.cached_property
    def registries(self) -> Any:
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.mgmt.containerregistry import ContainerRegistryManagementClient

        return self._mgmt(ContainerRegistryManagementClient)

    @functools.cached_property
    def registry_tasks(self) -> Any:
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.mgmt.containerregistrytasks import ContainerRegistryTasksMgmtClient

        return self._mgmt(ContainerRegistryTasksMgmtClient)

    @functools.cached_property
    def logs(self) -> Any:
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.monitor.query import LogsQueryClient

        endpoint = self.backend.logs_endpoint()
        kwargs: dict[str, Any] = {"endpoint": endpoint}
        if self.backend.name == "emulator":
            kwargs["connection_verify"] = self.backend.tls_verify
        return LogsQueryClient(self.backend.credential(), **kwargs)

    def registry_data(self, login_server: str) -> Any:
        """``ContainerRegistryClient`` for one registry's data plane."""
        key = login_server.lower()
        if key not in self._registry:
            # the Azure SDK stack loads when a lab runs, not at collection
            from azure.containerregistry import ContainerRegistryClient

            kwargs: dict[str, Any] = {"audience": "https://management.azure.com"}
            if self.backend.name == "emulator":
                kwargs["connection_verify"] = self.backend.tls_verify
            self._registry[key] = ContainerRegistryClient(
                self.backend.registry_endpoint(login_server), self.backend.credential(), **kwargs)
        return self._registry[key]
