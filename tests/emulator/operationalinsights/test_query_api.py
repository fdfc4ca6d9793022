"""The query API (``/v1/workspaces/{id}/query``, ``/v1/{resourceId}/query``, ``/v1/$batch``) through
azure-monitor-query's LogsQueryClient, and raw HTTPS for headers and auth."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsBatchQuery, LogsQueryStatus

from pytest_acalab.emulator.platform.identity import Identity

SYS = "ContainerAppSystemLogs_CL"


@pytest.fixture
def seeded(emu, workspace):
    """Three system-log rows, one of them two hours old, visible at once (fast profile)."""
    now = emu.clock.now()
    rows = [
        {"ContainerAppName_s": "ca-lab", "Reason_s": "PullingImage", "Log_s": "Pulling image 'x'", "Count_d": 1.0},
        {"ContainerAppName_s": "ca-lab", "Reason_s": "ContainerTerminated", "Log_s": "ImagePullFailure",
         "Count_d": 2.0, "Type_s": "Warning"},
        {"ContainerAppName_s": "ca-lab", "Reason_s": "PullingImage", "Log_s": "old",
         "TimeGenerated": now - dt.timedelta(hours=2)},
    ]
    emu.platform.services.logs.ingest(workspace.customer_id, SYS, rows, now - dt.timedelta(seconds=1))
    return workspace


def test_query_workspace_honours_timespan(logs_client, seeded) -> None:
    query = f"{SYS} | where ContainerAppName_s == 'ca-lab' | summarize n = count() by Reason_s | order by Reason_s asc"
    last_hour = logs_client.query_workspace(seeded.customer_id, query, timespan=dt.timedelta(hours=1))
    assert last_hour.status == LogsQueryStatus.SUCCESS
    (table,) = last_hour.tables
    assert table.columns == ["Reason_s", "n"] and table.columns_types == ["string", "long"]
    assert [list(r) for r in table.rows] == [["ContainerTerminated", 1], ["PullingImage", 1]]
    whole = logs_client.query_workspace(seeded.customer_id, query, timespan=None)
    assert [list(r) for r in whole.tables[0].rows] == [["ContainerTerminated", 1], ["PullingImage", 2]]
    window = logs_client.query_workspace(seeded.customer_id, f"{SYS} | project Log_s",
                                         timespan=(dt.datetime.now(dt.UTC) - dt.timedelta(hours=3),
                                                   dt.timedelta(hours=1.5)))
    assert [r[0] for r in window.tables[0].rows] == ["old"]


def test_datetimes_come_back_as_datetimes(logs_client, seeded) -> None:
    result = logs_client.query_workspace(seeded.customer_id, f"{SYS} | top 1 by TimeGenerated desc | "
                                         "project TimeGenerated", timespan=dt.timedelta(hours=1))
    stamp = result.tables[0].rows[0][0]
    assert isinstance(stamp, dt.datetime)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60


def test_unknown_table_is_an_error_not_empty(logs_client, workspace) -> None:
    with pytest.raises(HttpResponseError) as err:
        logs_client.query_workspace(workspace.customer_id, f"{SYS} | take 5", timespan=dt.timedelta(hours=1))
    assert err.value.status_code == 400
    assert "Failed to resolve table or column expression named 'ContainerAppSystemLogs_CL'" in str(err.value)


def test_unknown_workspace_is_path_not_found(logs_client, http, logs_token) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as err:
        logs_client.query_workspace(missing, "print 1", timespan=None)
    assert err.value.status_code == 404
    resp = http("POST", f"/v1/workspaces/{missing}/query", logs_token, json={"query": "print 1"})
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert (error["code"], error["message"]) == ("PathNotFoundError", "The requested path does not exist")


def test_auth_is_required_and_foreign_tokens_refused(emu, http, workspace) -> None:
    path = f"/v1/workspaces/{workspace.customer_id}/query"
    anonymous = http("POST", path, json={"query": "print 1"})
    # the Log Analytics query API's own codes, not ARM's
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "AuthorizationRequiredError"
    assert anonymous.json()["error"]["message"] == "Valid authentication was not provided"
    other = Identity(emu.tenant_id)  # another authority: same claims, another signing key
    forged = other.issue(other.add_principal("intruder"), emu.logs_endpoint)
    refused = http("POST", path, forged, json={"query": "print 1"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidTokenError"


def test_prefer_statistics_and_render(logs_client, seeded, http, logs_token) -> None:
    result = logs_client.query_workspace(seeded.customer_id, f"{SYS} | summarize count() by bin(TimeGenerated, 1m)"
                                         " | render timechart", timespan=dt.timedelta(hours=1),
                                         include_statistics=True, include_visualization=True, server_timeout=30)
    assert result.statistics["query"]["datasetStatistics"][0]["tableRowCount"] == len(result.tables[0].rows)
    assert result.statistics["query"]["executionTime"] >= 0
    assert result.visualization == {"visualization": "timechart"}
    resp = http("POST", f"/v1/workspaces/{seeded.customer_id}/query", logs_token,
                headers={"Prefer": "wait=30,include-statistics=true"}, json={"query": f"{SYS} | count"})
    assert resp.headers["Preference-Applied"] == "wait=30,include-statistics=true"
    plain = http("POST", f"/v1/workspaces/{seeded.customer_id}/query", logs_token, json={"query": f"{SYS} | count"})
    assert "Preference-Applied" not in plain.headers and "statistics" not in plain.json()


def test_get_with_query_string(http, logs_token, seeded) -> None:
    resp = http("GET", f"/v1/workspaces/{seeded.customer_id}/query", logs_token,
                params={"query": f"{SYS} | count", "timespan": "PT1H"})
    assert resp.status_code == 200
    assert resp.json()["tables"][0]["rows"] == [[2]]


def test_query_resource_by_workspace_resource_id(logs_client, seeded, emu, http, logs_token) -> None:
    result = logs_client.query_resource(seeded.id, f"{SYS} | count", timespan=dt.timedelta(hours=1))
    assert result.tables[0].rows[0][0] == 2
    missing = seeded.id.rsplit("/", 1)[0] + "/nope"
    resp = http("POST", f"/v1{missing}/query", logs_token, json={"query": "print 1"})
    assert resp.status_code == 404


def test_query_batch_mixes_results_and_errors(logs_client, seeded, workspace) -> None:
    results = logs_client.query_batch([
        LogsBatchQuery(seeded.customer_id, f"{SYS} | count", timespan=dt.timedelta(hours=1)),
        LogsBatchQuery(seeded.customer_id, "NoSuchTable | count", timespan=dt.timedelta(hours=1)),
        LogsBatchQuery(str(uuid.uuid4()), "print 1", timespan=None),
        LogsBatchQuery(seeded.customer_id, f"{SYS} | count", timespan=None, include_statistics=True),
    ])
    assert results[0].status == LogsQueryStatus.SUCCESS and results[0].tables[0].rows[0][0] == 2
    assert results[1].status == LogsQueryStatus.FAILURE and "NoSuchTable" in results[1].message
    assert results[2].status == LogsQueryStatus.FAILURE and results[2].code == "PathNotFoundError"
    assert results[3].tables[0].rows[0][0] == 3 and results[3].statistics is not None


def test_syntax_error_keeps_service_shape(http, logs_token, workspace) -> None:
    resp = http("POST", f"/v1/workspaces/{workspace.customer_id}/query", logs_token, json={"query": "print 1 |"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "BadArgumentError" and error["innererror"]["code"] == "SyntaxError"
