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

    def _mgmt(self, cls: type) -> Any:
        return cls(self.backend.credential(), self.backend.subscription_id, **self.backend.client_options())

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
    def monitor(self) -> Any:
        """Azure Monitor's management client (metrics, metric definitions): what ``az monitor metrics`` uses."""
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.mgmt.monitor import MonitorManagementClient

        return self._mgmt(MonitorManagementClient)

    @functools.cached_property
    def logs(self) -> Any:
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.monitor.query import LogsQueryClient

        return LogsQueryClient(self.backend.credential(), endpoint=self.backend.logs_endpoint(),
                               **self.backend.data_plane_options())

    def registry_data(self, login_server: str) -> Any:
        """``ContainerRegistryClient`` for one registry's data plane."""
        key = login_server.lower()
        if key not in self._registry:
            # the Azure SDK stack loads when a lab runs, not at collection
            from azure.containerregistry import ContainerRegistryClient

            self._registry[key] = ContainerRegistryClient(
                self.backend.registry_endpoint(login_server), self.backend.credential(),
                audience="https://management.azure.com", **self.backend.data_plane_options())
        return self._registry[key]
