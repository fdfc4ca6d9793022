"""The ingestion side: ``platform.services.logs`` (what Container Apps writes through) with its delay,
and the HTTP Data Collector API with SharedKey signatures."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsQueryClient

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.operationalinsights.logstore import LogIngestionError

SYS = "ContainerAppSystemLogs_CL"


@pytest.fixture(scope="module")
def slow_emu() -> Iterator[Emulator]:
    """Realistic durations at 20x: ingestion takes 7.5 s instead of 150 s. The one query made before the rows'
    visible time has that long to be answered; at 100x (1.5 s) a loaded machine could answer it after."""
    with Emulator(profile="realistic", speed=20) as emulator:
        yield emulator


def _internal_workspace(emulator: Emulator, name: str) -> dict:
    group = f"/subscriptions/{emulator.subscription_id}/resourcegroups/rg-{name}"
    assert emulator.platform.call("PUT", group, {"location": "koreacentral"}, "2024-03-01").status == 201
    resp = emulator.platform.call("PUT", f"{group}/providers/Microsoft.OperationalInsights/workspaces/{name}",
                                  {"location": "koreacentral"}, "2023-09-01")
    assert resp.status == 201
    return resp.payload()


def test_rows_become_visible_after_the_ingestion_delay(slow_emu) -> None:
    ws = _internal_workspace(slow_emu, "ws-delay")
    customer_id = ws["properties"]["customerId"]
    client = LogsQueryClient(slow_emu.credential(), endpoint=slow_emu.logs_endpoint,
                             connection_verify=slow_emu.ca_bundle)
    with pytest.raises(HttpResponseError):  # warm up: token and TLS connection before the clock starts
        client.query_workspace(customer_id, f"{SYS} | count", timespan=dt.timedelta(hours=1))
    written = slow_emu.clock.now()
    slow_emu.platform.services.logs.ingest(customer_id, SYS, [{"Reason_s": "PullingImage"}], written)
    delay = slow_emu.clock.duration("logs.ingestion")
    # before the delay the table does not exist yet: an error, not an empty result (as Log Analytics answers)
    with pytest.raises(HttpResponseError) as err:
        client.query_workspace(customer_id, f"{SYS} | count", timespan=dt.timedelta(hours=1))
    assert err.value.status_code == 400
    give_up = time.monotonic() + delay + 5
    while True:  # poll until the row is queryable; it must not be before the delay has passed
        try:
            result = client.query_workspace(customer_id, f"{SYS} | project Reason_s, TimeGenerated",
                                            timespan=dt.timedelta(hours=1))
            break
        except HttpResponseError:
            assert time.monotonic() < give_up, "the row never became queryable"
            time.sleep(0.005)
    assert (slow_emu.clock.now() - written).total_seconds() >= delay
    (row,) = result.tables[0].rows
    assert row[0] == "PullingImage"
    assert abs((row[1] - written).total_seconds()) < 0.001  # TimeGenerated is when it happened, not when visible


def test_time_generated_from_row_or_generated_at(emu, logs_client, workspace) -> None:
    generated = emu.clock.now() - dt.timedelta(minutes=5)
    own = generated - dt.timedelta(minutes=1)
    emu.platform.services.logs.ingest(workspace.customer_id, "ContainerAppSystemLogs", [
        {"Reason": "ContainerTerminated", "Type": "Warning", "Count": 3, "TimeGenerated": own},
        {"Reason": "PullingImage", "Type": "Normal", "Count": 1},
    ], generated)
    result = logs_client.query_workspace(
        workspace.customer_id, "ContainerAppSystemLogs | order by TimeGenerated asc "
        "| project Reason, Type, Count, TimeGenerated", timespan=dt.timedelta(hours=1))
    rows = [list(r) for r in result.tables[0].rows]
    assert [r[:3] for r in rows] == [["ContainerTerminated", "Warning", 3], ["PullingImage", "Normal", 1]]
    assert rows[0][3] == own and rows[1][3] == generated


def test_rows_for_unknown_or_deleted_workspaces_are_dropped_and_counted(emu, la_client, group,
                                                                        workspace) -> None:
    sink = emu.platform.services.logs
    stranger = str(uuid.uuid4())
    sink.ingest(stranger, SYS, [{"Reason_s": "x"}, {"Reason_s": "y"}], emu.clock.now())
    assert sink.dropped[stranger] == 2
    la_client.workspaces.begin_delete(group, workspace.name, force=True).result()
    sink.ingest(workspace.customer_id, SYS, [{"Reason_s": "x"}], emu.clock.now())
    assert sink.dropped[workspace.customer_id.lower()] == 1


def test_rows_that_do_not_fit_the_table_are_a_provider_bug(emu, workspace) -> None:
    with pytest.raises(LogIngestionError, match="NotAColumn"):
        emu.platform.services.logs.ingest(workspace.customer_id, SYS, [{"NotAColumn": 1}], emu.clock.now())


def test_check_shared_key(emu, la_client, group, workspace) -> None:
    keys = la_client.shared_keys.get_shared_keys(group, workspace.name)
    sink = emu.platform.services.logs
    assert sink.check_shared_key(workspace.customer_id, keys.primary_shared_key)
    assert sink.check_shared_key(workspace.customer_id.upper(), keys.secondary_shared_key)
    assert not sink.check_shared_key(workspace.customer_id, keys.primary_shared_key[:-4] + "AAA=")
    assert not sink.check_shared_key(str(uuid.uuid4()), keys.primary_shared_key)


# -- HTTP Data Collector API --------------------------------------------------------------------------


def _signed(customer_id: str, key: str, body: bytes, log_type: str, **extra: str) -> dict[str, str]:
    """Headers exactly as Microsoft's documented Data Collector sample builds them."""
    date = formatdate(usegmt=True)
    to_sign = f"POST\n{len(body)}\napplication/json\nx-ms-date:{date}\n/api/logs"
    signature = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "Log-Type": log_type, "x-ms-date": date,
            "Authorization": f"SharedKey {customer_id}:{signature}", **extra}


@pytest.fixture
def collector(emu, http, la_client, group, workspace):
    key = la_client.shared_keys.get_shared_keys(group, workspace.name).primary_shared_key

    def post(records: object, log_type: str = "LabProbe", key: str = key, **extra: str):
        body = json.dumps(records).encode()
        return http("POST", f"/ods/{workspace.customer_id}/api/logs?api-version=2016-04-01", data=body,
                    headers=_signed(workspace.customer_id, key, body, log_type, **extra))

    return post


def test_data_collector_writes_typed_custom_table(collector, logs_client, workspace, eventually) -> None:
    assert collector([{"app": "ca-lab", "latency": 12.5, "ok": True, "seen": "2026-06-29T08:50:15Z",
                       "run": "6f1c2a8e-0d7b-4c55-9a51-1d2b3c4d5e6f", "detail": {"code": 7}}]).status_code == 200
    result = eventually(lambda: logs_client.query_workspace(
        workspace.customer_id, "LabProbe_CL | project app_s, latency_d, ok_b, seen_t, run_g, detail_s, Type",
        timespan=dt.timedelta(hours=1)))
    table = result.tables[0]
    assert table.columns_types == ["string", "real", "bool", "datetime", "guid", "string", "string"]
    (row,) = [list(r) for r in table.rows]
    assert row[:3] == ["ca-lab", 12.5, True]
    assert row[3] == dt.datetime(2026, 6, 29, 8, 50, 15, tzinfo=dt.UTC)
    assert row[4] == "6f1c2a8e-0d7b-4c55-9a51-1d2b3c4d5e6f"
    assert json.loads(row[5]) == {"code": 7} and row[6] == "LabProbe_CL"
    # a later record with a new field grows the table
    assert collector({"app": "ca-lab", "retries": 3}).status_code == 200
    def grown() -> None:
        result = logs_client.query_workspace(workspace.customer_id, "LabProbe_CL | summarize sum(retries_d)",
                                             timespan=dt.timedelta(hours=1))
        assert result.tables[0].rows[0][0] == 3

    eventually(grown)


def test_data_collector_time_generated_field(collector, logs_client, workspace, eventually) -> None:
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).replace(microsecond=0)
    assert collector([{"msg": "a", "at": when.isoformat()}], **{"time-generated-field": "at"}).status_code == 200
    result = eventually(lambda: logs_client.query_workspace(
        workspace.customer_id, "LabProbe_CL | project TimeGenerated", timespan=dt.timedelta(hours=1)))
    assert result.tables[0].rows[0][0] == when


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"key": base64.b64encode(b"k" * 64).decode()}, 403, "InvalidAuthorization"),
        ({"log_type": "bad-type!"}, 400, "InvalidLogType"),
        ({"log_type": ""}, 400, "MissingLogType"),
    ],
    ids=["wrong-key", "invalid-log-type", "missing-log-type"],
)
def test_data_collector_refusals(collector, change, status, code, logs_client, workspace) -> None:
    resp = collector([{"msg": "x"}], **change)
    assert resp.status_code == status
    assert resp.json()["Error"] == code
    with pytest.raises(HttpResponseError):  # nothing was written: the table does not exist
        logs_client.query_workspace(workspace.customer_id, "LabProbe_CL | count", timespan=None)


def test_data_collector_needs_api_version_and_shared_key_scheme(http, workspace, logs_token) -> None:
    path = f"/ods/{workspace.customer_id}/api/logs"
    assert http("POST", path, data=b"[]", headers={"Log-Type": "X", "Content-Type": "application/json"}
                ).json()["Error"] == "MissingApiVersion"
    bearer = http("POST", f"{path}?api-version=2016-04-01", logs_token, data=b"[]",
                  headers={"Log-Type": "X", "Content-Type": "application/json", "x-ms-date": formatdate(usegmt=True)})
    assert bearer.status_code == 403 and bearer.json()["Error"] == "InvalidAuthorization"
