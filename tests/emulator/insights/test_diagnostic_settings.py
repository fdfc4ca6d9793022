"""Microsoft.Insights diagnosticSettings through the real azure-mgmt-monitor client, and their effect:
an azure-monitor environment's system logs reach the workspace a setting names."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from pytest_acalab.emulator import Emulator

monitor = pytest.importorskip("azure.mgmt.monitor")
LOGS = [{"category": "ContainerAppConsoleLogs", "enabled": True},
        {"category": "ContainerAppSystemLogs", "enabled": True}]


@pytest.fixture
def clients(emu: Emulator):
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient

    kwargs = {"polling_interval": 0, **emu.client_kwargs()}
    cred, sub = emu.credential(), emu.subscription_id
    return (monitor.MonitorManagementClient(cred, sub, **kwargs), ContainerAppsAPIClient(cred, sub, **kwargs),
            LogAnalyticsManagementClient(cred, sub, **kwargs))


def _env(apps, group: str, destination: str = "azure-monitor"):
    return apps.managed_environments.begin_create_or_update(group, "env-diag", {
        "location": "koreacentral", "properties": {"appLogsConfiguration": {"destination": destination}}}).result()


def test_put_get_list_delete(clients, group: str) -> None:
    mon, apps, la = clients
    env = _env(apps, group)
    ws = la.workspaces.begin_create_or_update(group, "ws-diag", {"location": "koreacentral"}).result()
    made = mon.diagnostic_settings.create_or_update(env.id, "to-ws", {"workspace_id": ws.id, "logs": LOGS})
    assert made.workspace_id == ws.id and [entry.category for entry in made.logs] == [e["category"] for e in LOGS]
    got = mon.diagnostic_settings.get(env.id, "to-ws")
    # GET lists every category of the resource type, the ones not sent as disabled (recorded shape)
    assert [(e.category, e.enabled) for e in got.logs] == [("ContainerAppConsoleLogs", True),
                                                           ("ContainerAppSystemLogs", True),
                                                           ("AppEnvSpringAppConsoleLogs", False)]
    assert [(m.category, m.enabled) for m in got.metrics] == [("AllMetrics", False)]
    assert [s.name for s in mon.diagnostic_settings.list(env.id)] == ["to-ws"]
    mon.diagnostic_settings.delete(env.id, "to-ws")
    with pytest.raises(ResourceNotFoundError):
        mon.diagnostic_settings.get(env.id, "to-ws")


def test_bad_settings_are_refused(clients, group: str) -> None:
    mon, apps, _ = clients
    env = _env(apps, group)
    with pytest.raises(HttpResponseError) as err:  # no destination
        mon.diagnostic_settings.create_or_update(env.id, "nowhere", {"logs": LOGS})
    assert err.value.status_code == 400
    with pytest.raises(HttpResponseError) as err:
        mon.diagnostic_settings.create_or_update(env.id, "odd", {"workspace_id": "/x", "logs": [
            {"category": "NoSuchCategory", "enabled": True}]})
    assert "NoSuchCategory" in err.value.error.message
    with pytest.raises(ResourceNotFoundError):  # on a resource that does not exist
        mon.diagnostic_settings.create_or_update(env.id + "x", "s", {"workspace_id": "/x", "logs": LOGS})


def test_system_logs_of_an_azure_monitor_environment_reach_the_named_workspace(clients, group: str,
                                                                                emu: Emulator) -> None:
    from azure.monitor.query import LogsQueryClient

    mon, apps, la = clients
    env = _env(apps, group)
    ws = la.workspaces.begin_create_or_update(group, "ws-diag", {"location": "koreacentral"}).result()
    mon.diagnostic_settings.create_or_update(env.id, "to-ws", {"workspace_id": ws.id, "logs": LOGS})
    apps.container_apps.begin_create_or_update(group, "diag-app", {
        "location": "koreacentral", "properties": {
            "environmentId": env.id,
            "template": {"containers": [{"name": "app", "image": "mcr.microsoft.com/k8se/quickstart:latest",
                                         "resources": {"cpu": 0.25, "memory": "0.5Gi"}}],
                         "scale": {"minReplicas": 1, "maxReplicas": 1}}}}).result()
    logs = LogsQueryClient(emu.credential(), endpoint=emu.logs_endpoint, connection_verify=emu.ca_bundle)
    query = "ContainerAppSystemLogs | where ContainerAppName == 'diag-app' | summarize n = count()"
    deadline = time.monotonic() + 30
    count = 0
    while time.monotonic() < deadline:
        result = logs.query_workspace(ws.customer_id, query, timespan=timedelta(days=1))
        count = result.tables[0].rows[0][0]
        if count:
            break
        time.sleep(0.05)
    assert count > 0
