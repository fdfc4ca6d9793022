"""KEDA's teardown of a replaced revision as a user finds it: ``ContainerAppSystemLogs_CL`` queried with KQL through
``azure-monitor-query``'s ``LogsQueryClient``, the app driven through ``azure-mgmt-appcontainers`` and the race
switched on through the emulator's ``/acalab/faults`` endpoint. The Guide's strict filter (one revision's
rows) is what keeps this benign noise out of a lab's verdict: the rows belong to the old revision."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from pytest_acalab.emulator import Emulator

SYS = "ContainerAppSystemLogs_CL"
TEARDOWN = '("KEDAScalersStopped", "FailedGetScale", "ScaledObjectDeleted")'


def _scaled(concurrent: int, env_id: str) -> dict[str, Any]:
    return {"location": "koreacentral", "properties": {
        "environmentId": env_id,
        "configuration": {"activeRevisionsMode": "Single", "ingress": {"external": True, "targetPort": 80}},
        "template": {"containers": [{"name": "app", "image": "mcr.microsoft.com/k8se/quickstart:latest",
                                     "resources": {"cpu": 0.25, "memory": "0.5Gi"}}],
                     "scale": {"minReplicas": 1, "maxReplicas": 2, "rules": [
                         {"name": "http-rule", "http": {"metadata": {"concurrentRequests": str(concurrent)}}}]}}}}


@pytest.fixture
def race(emu: Emulator, http, arm_token: str) -> Iterator[None]:
    """Every teardown meets the HPA's sync (Azure: 1 of 10 captured), switched back off afterwards."""
    answer = http("PUT", "/acalab/faults", arm_token, json={"teardown_scale_race": 1.0})
    assert answer.status_code == 200 and answer.json()["teardown_scale_race"] == 1.0
    try:
        yield
    finally:
        emu.platform.faults.configure(0.0)


def _rows(logs_client, customer_id: str, query: str, until: Any) -> list[list[Any]]:
    """Poll the query until ``until(rows)`` holds (ingestion takes its delay; the table may not exist yet)."""
    deadline = time.monotonic() + 60
    rows: list[list[Any]] = []
    while time.monotonic() < deadline:
        try:
            result = logs_client.query_workspace(customer_id, query, timespan=dt.timedelta(hours=1))
            rows = [list(r) for r in result.tables[0].rows]
            if until(rows):
                return rows
        except HttpResponseError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out; last rows {rows!r}")


def test_an_updated_scale_rule_leaves_failed_get_scale_on_the_old_revision_only(
        emu: Emulator, group: str, la_client, logs_client, workspace, race: None) -> None:
    from azure.mgmt.appcontainers import ContainerAppsAPIClient

    apps = ContainerAppsAPIClient(emu.credential(), emu.subscription_id, polling_interval=0, **emu.client_kwargs())
    key = la_client.shared_keys.get_shared_keys(group, workspace.name).primary_shared_key
    env = apps.managed_environments.begin_create_or_update(group, "env-keda", {
        "location": "koreacentral", "properties": {"appLogsConfiguration": {
            "destination": "log-analytics",
            "logAnalyticsConfiguration": {"customerId": workspace.customer_id, "sharedKey": key}}}}).result()
    old = apps.container_apps.begin_create_or_update(group, "ca-keda", _scaled(500, env.id)).result()
    new = apps.container_apps.begin_create_or_update(group, "ca-keda", _scaled(10, env.id)).result()
    old_rev, new_rev = old.latest_revision_name, new.latest_revision_name
    assert old_rev != new_rev

    rows = _rows(logs_client, workspace.customer_id,
                 f"{SYS} | where ContainerAppName_s == 'ca-keda' and Reason_s in {TEARDOWN} "
                 "| project RevisionName_s, Type_s, Reason_s, EventSource_s, ReplicaName_s, Count_d, Log_s",
                 lambda rows: len(rows) >= 3)
    # one instant for the three (the order of lines is the event stream's, tests/emulator/app/test_scaling.py)
    assert sorted(rows) == sorted([
        [old_rev, "Normal", "KEDAScalersStopped", "KEDA", "", 1.0,
         f"KEDA is stopping the watch for revision '{old_rev}' to monitor scale operations for this revision"],
        [old_rev, "Warning", "FailedGetScale", "Scaling", "", 1.0, f'deployments.apps "{old_rev}" not found'],
        [old_rev, "Warning", "ScaledObjectDeleted", "KEDA", "", 1.0,
         "ScaledObject was removed from KEDA watch and would not be auto-scaled."]])
    # the Guide's strict filter on the active revision: its KEDA watch started, nothing of the teardown
    active = _rows(logs_client, workspace.customer_id,
                   f"{SYS} | where RevisionName_s == '{new_rev}' and (Reason_s startswith 'Scal' or Reason_s "
                   "startswith 'KEDA' or Reason_s == 'FailedGetScale') | project Reason_s",
                   lambda rows: bool(rows))
    assert {r[0] for r in active} == {"KEDAScalersStarted"}
