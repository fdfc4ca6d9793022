"""System logs on both surfaces: the event stream (app and environment) and Log Analytics rows."""

from __future__ import annotations

import json
import re
import threading

import pytest
from app_helpers import LOCATION, Lab, wait_until

GOOD = "acrlab.azurecr.io/labacr:v1"
FIELDS = ["TimeStamp", "Type", "ContainerAppName", "RevisionName", "ReplicaName", "Msg", "Reason", "EventSource",
          "Count"]


@pytest.fixture
def ready(lab: Lab) -> Lab:
    app = lab.create("ca-logs", GOOD)
    wait_until(lambda: "ContainerAppReady" in [x["Reason"] for x in lab.system_lines("ca-logs")], "app ready")
    lab.latest = app.latest_revision_name  # type: ignore[attr-defined]
    return lab


def test_stream_lines_fields_and_timestamp_formats(ready: Lab) -> None:
    resp = ready.stream("ca-logs", tailLines=300)
    assert resp.status_code == 200 and resp.headers.get("Transfer-Encoding") == "chunked"
    raw = resp.text.splitlines()
    lines = [json.loads(x) for x in raw]
    assert all(list(x) == FIELDS for x in lines)
    assert [x["Reason"] for x in lines[:2]] == ["StartingGettingEvents", "ConnectedToEventsServer"]
    assert lines[0]["ContainerAppName"] is None and lines[0]["Msg"] == "Connecting to the events collector..."
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[0]["TimeStamp"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{7} \+0000 UTC", lines[2]["TimeStamp"])
    assert "\\u002B0000 UTC" in raw[2] and "+" not in raw[2]
    reasons = [x["Reason"] for x in lines[2:]]
    expected = ["RevisionCreation", "AssigningReplica", "PullingImage", "PulledImage", "ContainerCreated",
                "ContainerStarted", "RevisionReady", "ContainerAppReady"]
    assert reasons == expected
    by = {x["Reason"]: x for x in lines}
    replica = by["AssigningReplica"]["ReplicaName"]
    assert by["AssigningReplica"]["Msg"] == f"Replica '{replica}' has been scheduled to run on a node."
    assert by["PullingImage"]["Msg"] == f"Pulling image '{GOOD}'"
    assert by["PulledImage"]["Msg"].startswith(f'Successfully pulled image "{GOOD}" in ')
    assert "\\u0022" in raw[reasons.index("PulledImage") + 2]
    assert by["RevisionReady"]["Msg"] == f"Successfully provisioned revision '{ready.latest}'"  # type: ignore[attr-defined]
    assert by["ContainerStarted"]["Msg"] == "Started container 'app'"


@pytest.mark.parametrize("tail, status, events", [(0, 200, 0), (3, 200, 3), (None, 200, 8), (300, 200, 8),
                                                  (301, 400, None), (-1, 400, None), ("x", 400, None)])
def test_tail_lines(ready: Lab, tail: object, status: int, events: int | None) -> None:
    params = {} if tail is None else {"tailLines": tail}
    resp = ready.session.get(ready.client.container_apps.get(ready.rg, "ca-logs").event_stream_endpoint,
                             params={"follow": "false", **params}, verify=ready.emu.ca_bundle,
                             headers={"Authorization": f"Bearer {ready.token('ca-logs')}"}, timeout=10)
    assert resp.status_code == status
    if events is not None:
        lines = resp.text.splitlines()
        assert len(lines) == 2 + events
        if events:
            assert json.loads(lines[-1])["Reason"] == "ContainerAppReady"


def test_stream_auth(ready: Lab) -> None:
    ready.create("ca-other", GOOD)
    assert ready.stream("ca-logs", token="not-a-token").status_code == 401
    assert ready.stream("ca-logs", token=ready.token("ca-other")).status_code == 401
    env_token = ready.client.managed_environments.get_auth_token(ready.rg, "env-lab").token
    assert ready.stream("ca-logs", token=env_token).status_code == 401
    url = ready.client.container_apps.get(ready.rg, "ca-logs").event_stream_endpoint
    assert ready.session.get(url, verify=ready.emu.ca_bundle, timeout=10).status_code == 401


def test_text_output(ready: Lab) -> None:
    lines = ready.stream("ca-logs", output="text").text.splitlines()
    assert "Connecting to the events collector..." in lines[0]
    assert any("Started container 'app'" in x for x in lines)


def test_environment_stream(ready: Lab) -> None:
    env = ready.client.managed_environments.get(ready.rg, "env-lab")
    token = ready.client.managed_environments.get_auth_token(ready.rg, "env-lab").token
    resp = ready.session.get(env.event_stream_endpoint, params={"follow": "false", "tailLines": 50},
                             headers={"Authorization": f"Bearer {token}"}, verify=ready.emu.ca_bundle, timeout=10)
    assert resp.status_code == 200
    lines = [json.loads(x) for x in resp.text.splitlines()]
    assert {x["ContainerAppName"] for x in lines[2:]} == {"ca-logs"}
    app_token = ready.token("ca-logs")
    assert ready.session.get(env.event_stream_endpoint, headers={"Authorization": f"Bearer {app_token}"},
                             verify=ready.emu.ca_bundle, timeout=10).status_code == 401


def test_follow_streams_new_events(ready: Lab) -> None:
    ready.emu.platform.services.extra["app"].streams.follow_seconds = 3.0
    resp = ready.stream("ca-logs", follow="true", tailLines=0, stream=True)
    resp_lines = resp.iter_lines()
    assert json.loads(next(resp_lines))["Reason"] == "StartingGettingEvents"
    assert json.loads(next(resp_lines))["Reason"] == "ConnectedToEventsServer"
    threading.Thread(target=ready.client.container_apps_revisions.restart_revision,
                     args=(ready.rg, "ca-logs", ready.latest)).start()  # type: ignore[attr-defined]
    seen = []
    for raw in resp_lines:
        if raw:
            seen.append(json.loads(raw)["Reason"])
        if "ContainerStarted" in seen:
            break
    resp.close()
    assert seen[0] == "AssigningReplica" and "PullingImage" in seen


def test_log_analytics_rows_use_the_legacy_columns(ready: Lab) -> None:
    rows = [r for r in ready.logs.rows if r[0] == ready.customer_id and r[1] != "ContainerAppConsoleLogs_CL"]
    assert rows and {r[1] for r in rows} == {"ContainerAppSystemLogs_CL"}  # the app's console lines go apart
    row = next(r[2] for r in rows if r[2]["Reason_s"] == "PulledImage")
    assert set(row) == {"TimeGenerated", "Log_s", "Reason_s", "Type_s", "EventSource_s", "RevisionName_s",
                        "ReplicaName_s", "ContainerAppName_s", "EnvironmentName_s", "Count_d", "TimeStamp_s", "time_t",
                        "_timestamp_d", "Error_s", "Level", "SourceSystem"}
    assert row["SourceSystem"] == "RestAPI" and row["EnvironmentName_s"] == "env-lab"
    assert row["ContainerAppName_s"] == "ca-logs" and row["Count_d"] == 1.0 and row["Type_s"] == "Normal"
    stream = [x["Reason"] for x in ready.system_lines("ca-logs")[2:]]
    assert [r[2]["Reason_s"] for r in rows] == stream


def test_azure_monitor_destination_writes_resource_specific_rows(lab: Lab) -> None:
    env = lab.client.managed_environments.begin_create_or_update(lab.rg, "env-am", {
        "location": LOCATION, "properties": {"appLogsConfiguration": {"destination": "azure-monitor"}}}).result()
    lab.emu.platform.services.extra["app"].set_diagnostic_workspace(env.id, "ws-diag")
    body = lab.app_body(GOOD)
    body["properties"]["environmentId"] = env.id
    lab.client.container_apps.begin_create_or_update(lab.rg, "ca-am", body).result()
    rows = wait_until(lambda: [r for r in lab.logs.rows if r[2].get("Reason") == "ContainerStarted"], "rows")
    customer, table, row, _ = rows[0]
    assert (customer, table) == ("ws-diag", "ContainerAppSystemLogs")
    assert {"Log", "Reason", "Type", "EventSource", "RevisionName", "ReplicaName", "ContainerAppName", "ContainerName",
            "EnvironmentName", "Count", "TimeGenerated"} <= set(row)
    assert row["ContainerName"] == "app" and row["EnvironmentName"] == "env-am"


def test_no_log_service_means_no_ingestion(lab: Lab) -> None:
    lab.emu.platform.services.logs = None
    lab.create("ca-nolog", GOOD)
    wait_until(lambda: "ContainerAppReady" in [x["Reason"] for x in lab.system_lines("ca-nolog")], "ready")
    assert not [r for r in lab.logs.rows if r[2]["ContainerAppName_s"] == "ca-nolog"]
