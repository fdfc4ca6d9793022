"""run_query: real captured queries replayed, lab-style KQL, ingestion delay, timespan, errors, and
the response parsed by azure-monitor-query's own client (over an in-process requests adapter)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path

import pytest
import requests
import urllib3
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.monitor.query import LogsQueryClient, LogsQueryStatus
from requests.adapters import BaseAdapter

from pytest_acalab.emulator.operationalinsights.logstore import WorkspaceLogs
from pytest_acalab.emulator.operationalinsights.query import (
    LogQueryError,
    format_datetime,
    format_timespan,
    parse_timespan,
    run_query,
)

# Real queries and their results, see the file's _source.
OBSERVED = json.loads((Path(__file__).parent / "data" / "observed_system_logs.json").read_text())
WS = "0d4b1c6e-0000-4000-8000-000000000001"
NOW = dt.datetime(2026, 6, 30, 0, 0, tzinfo=dt.UTC)
SYS = "ContainerAppSystemLogs_CL"


def captured(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "TableName"} for r in rows]


def as_dicts(body: dict) -> list[dict]:
    (table,) = body["tables"]
    assert table["name"] == "PrimaryResult"
    names = [c["name"] for c in table["columns"]]
    return [dict(zip(names, row, strict=True)) for row in table["rows"]]


#: When the fixture's rows become visible: after the last captured TimeGenerated.
VISIBLE_AT = dt.datetime(2026, 6, 29, 8, 51, 30, tzinfo=dt.UTC)
INGESTED: list[dict] = []


@pytest.fixture(scope="module")
def observed_logs():
    """Every captured row, plus synthetic decoys each replayed query must leave out."""
    logs = WorkspaceLogs(WS)
    fw = captured(OBSERVED["firewall_allowlist"]["rows"])
    pe = [dict(r, ContainerAppName_s="ca-acrpedir-nadfay") for r in captured(OBSERVED["pe_direct"]["rows"])]
    pm_app = OBSERVED["port_mismatch"]["app"]
    pm = [dict(r, ContainerAppName_s=pm_app) for r in captured(OBSERVED["port_mismatch"]["rows"])]
    decoys = [
        # other app, same reasons and times
        dict(fw[5], ContainerAppName_s="ca-other"),
        dict(pe[0], ContainerAppName_s="ca-other"),
        dict(pm[0], ContainerAppName_s="ca-other"),
        # before each query's time filter
        dict(fw[5], TimeGenerated="2026-06-29T08:40:00Z"),
        dict(pe[0], TimeGenerated="2026-06-26T12:40:00Z"),
        dict(pm[0], TimeGenerated="2026-06-22T12:00:00Z"),
        # a reason the pe-direct query does not ask for
        dict(pe[0], Reason_s="ContainerTerminated", Log_s="Container 'app' was terminated"),
    ]
    INGESTED.clear()
    for batch in (fw, pe, pm, decoys):
        logs.ingest(SYS, batch, visible_at=VISIBLE_AT)
        INGESTED.extend(batch)
    yield logs
    logs.close()


# -- captured queries ------------------------------------------------------------------------------


def test_replays_the_firewall_capture(observed_logs):
    case = OBSERVED["firewall_allowlist"]
    got = as_dicts(run_query(observed_logs, case["query"], None, NOW))
    expected = captured(case["rows"])
    assert [r["TimeGenerated"] for r in got] == sorted(r["TimeGenerated"] for r in expected)
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, expected))
    assert "2026-06-29T08:50:15.7662306Z" in {r["TimeGenerated"] for r in got}  # 100 ns ticks kept


def test_replays_the_pe_direct_capture_in_order(observed_logs):
    case = OBSERVED["pe_direct"]
    body = run_query(observed_logs, case["query"], None, NOW)
    cols = body["tables"][0]["columns"]
    assert [c["name"] for c in cols] == ["TimeGenerated", "RevisionName_s", "ReplicaName_s", "Reason_s", "Log_s"]
    assert [c["type"] for c in cols] == ["datetime", "string", "string", "string", "string"]
    got = as_dicts(body)
    expected = captured(case["rows"])
    assert [r["TimeGenerated"] for r in got] == [r["TimeGenerated"] for r in expected]
    assert Counter(json.dumps(r, sort_keys=True) for r in got) == Counter(
        json.dumps(r, sort_keys=True) for r in expected
    )


def test_replays_the_port_mismatch_capture(observed_logs):
    case = OBSERVED["port_mismatch"]
    assert as_dicts(run_query(observed_logs, case["query"], None, NOW)) == captured(case["rows"])


# -- lab-style queries --------------------------------------------------------------------------------


def test_summarize_count_by_reason(observed_logs):
    app = "ca-acrfw33-xi7y5a"
    body = run_query(
        observed_logs,
        f"{SYS} | where ContainerAppName_s == '{app}' and Reason_s in ('PullingImage','ContainerTerminated')"
        " | summarize count() by Reason_s",
        None,
        NOW,
    )
    assert body["tables"][0]["columns"] == [
        {"name": "Reason_s", "type": "string"},
        {"name": "count_", "type": "long"},
    ]
    expected = Counter(
        r["Reason_s"]
        for r in INGESTED
        if r["ContainerAppName_s"] == app and r["Reason_s"] in ("PullingImage", "ContainerTerminated")
    )
    assert expected["PullingImage"] and expected["ContainerTerminated"]
    assert dict(map(tuple, body["tables"][0]["rows"])) == dict(expected)


def test_has_contains_project_order_take(observed_logs):
    got = as_dicts(
        run_query(
            observed_logs,
            f"{SYS} | where Log_s has 'ImagePullFailure' and Log_s contains 'DENIED'"
            " | project TimeGenerated, Type_s | order by TimeGenerated desc | take 2",
            None,
            NOW,
        )
    )
    assert [r["TimeGenerated"] for r in got] == ["2026-06-29T08:51:01.3478195Z", "2026-06-29T08:50:41.5904904Z"]
    assert {r["Type_s"] for r in got} == {"Warning"}
    # `has` matches whole terms only: 'Pulling' is not a term of 'PullingImage'
    none = run_query(observed_logs, f"{SYS} | where Reason_s has 'Pulling'", None, NOW)
    assert none["tables"][0]["rows"] == []


def test_ago_uses_the_callers_now(observed_logs):
    query = f"{SYS} | where TimeGenerated > ago(5m) | summarize n = count()"
    at_capture = dt.datetime(2026, 6, 29, 8, 52, tzinfo=dt.UTC)
    recent = [r for r in INGESTED if r["TimeGenerated"] > "2026-06-29T08:47"]
    assert 0 < len(recent) < len(INGESTED)
    assert run_query(observed_logs, query, None, at_capture)["tables"][0]["rows"] == [[len(recent)]]
    assert run_query(observed_logs, query, None, NOW)["tables"][0]["rows"] == [[0]]


def test_distinct_and_bin(observed_logs):
    body = run_query(
        observed_logs,
        f"{SYS} | where ContainerAppName_s == 'ca-acrpedir-nadfay' and Reason_s == 'PullingImage'"
        " | summarize c = count() by bin(TimeGenerated, 1m) | order by TimeGenerated asc",
        None,
        NOW,
    )
    minutes = Counter(
        r["TimeGenerated"][:16] + ":00Z"
        for r in INGESTED
        if r["ContainerAppName_s"] == "ca-acrpedir-nadfay" and r["Reason_s"] == "PullingImage"
    )
    assert [tuple(r) for r in body["tables"][0]["rows"]] == sorted(minutes.items())
    distinct = run_query(observed_logs, f"{SYS} | distinct RevisionName_s | order by RevisionName_s asc", None, NOW)
    assert [r[0] for r in distinct["tables"][0]["rows"]] == sorted({r["RevisionName_s"] for r in INGESTED})


# -- ingestion delay and timespan ------------------------------------------------------------------------


def test_rows_are_invisible_until_visible_at():
    logs = WorkspaceLogs(WS)
    t = dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)
    logs.ingest(SYS, [{"Reason_s": "PullingImage", "TimeGenerated": t}], visible_at=t + dt.timedelta(minutes=2))
    query = f"{SYS} | project Reason_s"
    with pytest.raises(LogQueryError) as before:
        run_query(logs, query, None, t + dt.timedelta(minutes=1))  # the table does not exist yet
    assert "Failed to resolve table or column expression named 'ContainerAppSystemLogs_CL'" in before.value.message
    assert run_query(logs, query, None, t + dt.timedelta(minutes=2))["tables"][0]["rows"] == [["PullingImage"]]

    logs.ingest(SYS, [{"Reason_s": "PulledImage", "TimeGenerated": t}], visible_at=t + dt.timedelta(minutes=5))
    assert as_dicts(run_query(logs, query, None, t + dt.timedelta(minutes=4))) == [{"Reason_s": "PullingImage"}]
    later = run_query(logs, query, None, t + dt.timedelta(minutes=5))
    assert sorted(r[0] for r in later["tables"][0]["rows"]) == ["PulledImage", "PullingImage"]
    logs.close()


@pytest.fixture(scope="module")
def aged_logs():
    logs = WorkspaceLogs(WS)
    ages = {"10m": dt.timedelta(minutes=10), "50m": dt.timedelta(minutes=50), "2h": dt.timedelta(hours=2)}
    ages["2d"] = dt.timedelta(days=2)
    logs.ingest(SYS, [{"Log_s": k, "TimeGenerated": NOW - v} for k, v in ages.items()], visible_at=NOW - ages["2d"])
    yield logs
    logs.close()


@pytest.mark.parametrize(
    ("timespan", "expected"),
    [
        (None, {"10m", "50m", "2h", "2d"}),
        ("PT1H", {"10m", "50m"}),
        ("PT3600.0S", {"10m", "50m"}),  # what LogsQueryClient sends for timedelta(hours=1)
        ("P1D", {"10m", "50m", "2h"}),
        ("2026-06-29T21:00:00Z/2026-06-29T23:00:00Z", {"2h"}),
        ("2026-06-29T23:00:00.000Z/PT30M", {"50m"}),
        ("PT30M/2026-06-30T00:00:00Z", {"10m"}),
    ],
)
def test_timespan_restricts_time_generated(aged_logs, timespan, expected):
    body = run_query(aged_logs, f"{SYS} | project Log_s", timespan, NOW)
    assert {r[0] for r in body["tables"][0]["rows"]} == expected


def test_parse_timespan_forms():
    assert parse_timespan("P1DT2H", NOW) == (NOW - dt.timedelta(days=1, hours=2), NOW)
    start = dt.datetime(2026, 6, 29, 23, 0, tzinfo=dt.UTC)
    assert parse_timespan("2026-06-29T23:00:00Z/PT1H", NOW) == (start, start + dt.timedelta(hours=1))
    for bad in ("", "P", "PT", "1H", "P1X", "2026-06-30T00:00:00Z/2026-06-29T00:00:00Z", "x/y"):
        with pytest.raises(LogQueryError) as err:
            parse_timespan(bad, NOW)
        assert err.value.status == 400 and err.value.code == "BadArgumentError"


def test_value_formats():
    assert format_datetime(1_782_723_015_766_230_600) == "2026-06-29T08:50:15.7662306Z"
    assert format_datetime(1_782_723_015_000_000_000) == "2026-06-29T08:50:15Z"
    assert format_datetime(1_782_723_015_988_343_000) == "2026-06-29T08:50:15.988343Z"
    assert format_timespan(dt.timedelta(seconds=1.5)) == "00:00:01.5000000"
    assert format_timespan(dt.timedelta(days=2, hours=3)) == "2.03:00:00"
    assert format_timespan(-dt.timedelta(minutes=5)) == "-00:05:00"


def test_column_types_of_computed_columns(observed_logs):
    body = run_query(
        observed_logs,
        f"{SYS} | take 1 | extend d = 1.5s, j = dynamic({{'a':[1,2]}}), b = true, i = toint(3), r = 2.5, "
        "l = 7, g = toguid('26d54061-b088-4ad7-a8ca-bae0990785e4') | project d, j, b, i, r, l, g",
        None,
        NOW,
    )
    (table,) = body["tables"]
    assert [c["type"] for c in table["columns"]] == ["timespan", "dynamic", "bool", "int", "real", "long", "guid"]
    assert table["rows"] == [
        ["00:00:01.5000000", '{"a":[1,2]}', True, 3, 2.5, 7, "26d54061-b088-4ad7-a8ca-bae0990785e4"]
    ]
    json.dumps(body)  # the body is plain JSON


# -- errors ------------------------------------------------------------------------------------------


def inner_chain(err: LogQueryError) -> list[str]:
    codes, node = [], err.body["error"]
    while node:
        codes.append(node["code"])
        node = node.get("innererror")
    return codes


def assert_bad_argument(err: LogQueryError) -> None:
    assert err.status == 400
    assert err.body["error"]["code"] == "BadArgumentError"
    assert err.body["error"]["message"] == "The request had some invalid properties"


@pytest.mark.parametrize(
    ("query", "chain", "message"),
    [
        (
            f"{SYS} | where Reason_s == ",
            ["BadArgumentError", "SyntaxError", "SYN0002"],
            "Query could not be parsed at '<EOF>' on line [1,",
        ),
        (
            "ContainerAppConsoleLogs_CL | where Log_s has 'x'",
            ["BadArgumentError", "SemanticError", "SEM0100"],
            "'where' operator: Failed to resolve table or column expression named 'ContainerAppConsoleLogs_CL'",
        ),
        (
            "NoSuchTable | take 5",
            ["BadArgumentError", "SemanticError", "SEM0100"],
            "'take' operator: Failed to resolve table or column expression named 'NoSuchTable'",
        ),
        (
            f"rows_{SYS} | take 1",  # the storage behind the view is not a table
            ["BadArgumentError", "SemanticError", "SEM0100"],
            f"'take' operator: Failed to resolve table or column expression named 'rows_{SYS}'",
        ),
        (
            f"{SYS} | where Timestamp > ago(1h)",
            ["BadArgumentError", "SemanticError", "SEM0100"],
            "'where' operator: Failed to resolve scalar expression named 'Timestamp'",
        ),
        (
            f"{SYS} | project TimeGenerated, Reason",
            ["BadArgumentError", "SemanticError", "SEM0100"],
            "'project' operator: Failed to resolve scalar expression named 'Reason'",
        ),
        (
            f"{SYS} | where reason_s == 'PullingImage'",  # KQL names are case-sensitive
            ["BadArgumentError", "SemanticError", "SEM0100"],
            "'where' operator: Failed to resolve scalar expression named 'reason_s'",
        ),
        (
            f"{SYS} | evaluate bag_unpack(Log_s)",
            ["BadArgumentError", "SemanticError", "EMULATOR_UNSUPPORTED"],
            "cannot run 'EvaluateOperator'",
        ),
        (
            f"{SYS} | where Reason_s > 3",  # Kusto refuses the comparison too (a semantic error)
            ["BadArgumentError", "SemanticError", "EMULATOR_ENGINE_ERROR"],
            "Cannot compare values of type VARCHAR and type BIGINT",
        ),
        ("", ["BadArgumentError", "SyntaxError", "SYN0002"], "Query could not be parsed at '<EOF>' on line [1,0]"),
        ("  // only a comment", ["BadArgumentError", "SyntaxError", "SYN0002"], "at '<EOF>'"),
        (f".set-or-replace Copy <| {SYS}", ["BadArgumentError", "SyntaxError", "SYN0002"], "at '.'"),
    ],
)
def test_errors_have_the_services_shape(observed_logs, query, chain, message):
    with pytest.raises(LogQueryError) as caught:
        run_query(observed_logs, query, None, NOW)
    err = caught.value
    assert_bad_argument(err)
    assert inner_chain(err) == chain
    assert message in err.message
    json.dumps(err.body)


def test_syntax_error_carries_position(observed_logs):
    with pytest.raises(LogQueryError) as caught:
        run_query(observed_logs, f"{SYS}\n| where Reason_s = = 'x'", None, NOW)
    detail = caught.value.body["error"]["innererror"]["innererror"]
    assert detail["line"] == 2 and isinstance(detail["pos"], int) and detail["token"]


# -- azure-monitor-query parses it ---------------------------------------------------------------------


class _Credential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("token", 2**31)

    def get_token_info(self, *scopes, options=None):
        return AccessTokenInfo("token", 2**31)


class _InProcessLogAnalytics(BaseAdapter):
    """A requests adapter answering POST /v1/workspaces/{id}/query with run_query: no socket at all."""

    def __init__(self, logs: WorkspaceLogs, now: dt.datetime) -> None:
        super().__init__()
        self.logs, self.now, self.requests = logs, now, []

    def send(self, request, **kwargs):
        payload = json.loads(request.body)
        self.requests.append((request.method, request.url, payload))
        try:
            status, body = 200, run_query(self.logs, payload["query"], payload.get("timespan"), self.now)
        except LogQueryError as err:
            status, body = err.status, err.body
        data = json.dumps(body).encode()
        response = requests.Response()
        response.status_code = status
        response.url = request.url
        response.request = request
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(data),
            headers={"Content-Type": "application/json", "Content-Length": str(len(data))},
            status=status,
            preload_content=False,
        )
        return response

    def close(self):
        pass


@pytest.fixture
def sdk_client(observed_logs):
    adapter = _InProcessLogAnalytics(observed_logs, NOW)
    session = requests.Session()
    session.mount("https://logs.emulator.test/", adapter)
    client = LogsQueryClient(
        _Credential(),
        endpoint="https://logs.emulator.test",
        transport=RequestsTransport(session=session, session_owner=False),
    )
    yield client, adapter
    client.close()


def test_logs_query_client_parses_results(sdk_client):
    client, adapter = sdk_client
    result = client.query_workspace(
        WS,
        f"{SYS} | where Reason_s == 'KEDAScalersStarted' | project TimeGenerated, Reason_s, Count_d"
        " | order by TimeGenerated asc | take 1",
        timespan=(dt.datetime(2026, 6, 29, 8, 0, tzinfo=dt.UTC), dt.timedelta(hours=1)),
    )
    assert adapter.requests[0][1] == f"https://logs.emulator.test/v1/workspaces/{WS}/query"
    assert result.status == LogsQueryStatus.SUCCESS
    (table,) = result.tables
    assert table.columns == ["TimeGenerated", "Reason_s", "Count_d"]
    assert table.columns_types == ["datetime", "string", "real"]
    (row,) = table.rows
    assert row["TimeGenerated"] == dt.datetime(2026, 6, 29, 8, 50, 15, 766230, tzinfo=dt.UTC)
    assert row["Reason_s"] == "KEDAScalersStarted" and row["Count_d"] is None


def test_logs_query_client_raises_the_service_error(sdk_client):
    client, _ = sdk_client
    with pytest.raises(HttpResponseError) as caught:
        client.query_workspace(WS, "ContainerAppConsoleLogs_CL | take 1", timespan=dt.timedelta(days=1))
    err = caught.value
    assert err.status_code == 400
    assert err.model.code == "BadArgumentError"
    assert err.model.message == (
        "'take' operator: Failed to resolve table or column expression named 'ContainerAppConsoleLogs_CL'"
    )
