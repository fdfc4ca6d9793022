"""WorkspaceLogs: schemas, ingestion checks, visibility, thread safety."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from pytest_acalab.emulator.operationalinsights.logstore import (
    LogIngestionError,
    WorkspaceLogs,
    parse_datetime_ns,
    to_ns,
)
from pytest_acalab.emulator.operationalinsights.query import run_query
from pytest_acalab.emulator.operationalinsights.tables import (
    COLUMN_TYPES,
    TABLES,
    TABLES_BY_DESTINATION,
)

T0 = dt.datetime(2026, 6, 29, 8, 0, tzinfo=dt.UTC)
WS = "6b2e6d7e-0000-4000-8000-00000000abcd"


@pytest.fixture
def logs():
    store = WorkspaceLogs(WS)
    yield store
    store.close()


def select_all(logs: WorkspaceLogs, table: str, now: dt.datetime) -> list[dict]:
    body = run_query(logs, table, None, now)
    names = [c["name"] for c in body["tables"][0]["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["tables"][0]["rows"]]


def test_schemas_have_the_documented_columns_and_types():
    legacy = TABLES["ContainerAppSystemLogs_CL"]
    for name in ("Log_s", "Reason_s", "Type_s", "EventSource_s", "RevisionName_s", "ReplicaName_s"):
        assert legacy.column(name).type == "string"
    assert legacy.column("Count_d").type == "real"
    assert legacy.column("time_t").type == "datetime"
    assert legacy.column("_timestamp_d").type == "real"
    assert legacy.column("TimeGenerated").type == "datetime"
    modern = TABLES["ContainerAppSystemLogs"]
    assert modern.column("Count").type == "int"
    assert modern.column("Log").type == "string" and modern.column("Log_s") is None
    assert TABLES["ContainerAppConsoleLogs_CL"].column("ContainerGroupId_g").type == "guid"
    assert TABLES["ContainerAppConsoleLogs"].column("Stream").type == "string"
    for schema in TABLES.values():
        assert {c.type for c in schema.columns} <= COLUMN_TYPES
        assert {"TimeGenerated", "TenantId", "SourceSystem", "Type", "_ResourceId"} <= set(schema.column_names)
    assert set(TABLES_BY_DESTINATION["log-analytics"]) == {
        "ContainerAppSystemLogs_CL",
        "ContainerAppConsoleLogs_CL",
    }


def test_a_table_exists_only_once_it_received_a_row(logs):
    assert logs.tables() == []
    assert logs.ingest("ContainerAppSystemLogs_CL", [], visible_at=T0) == 0
    assert logs.tables() == []
    logs.ingest("ContainerAppSystemLogs_CL", [{"Reason_s": "PullingImage"}], visible_at=T0)
    assert logs.tables() == ["ContainerAppSystemLogs_CL"]
    assert logs.tables(now=T0 - dt.timedelta(seconds=1)) == []
    assert logs.tables(now=T0) == ["ContainerAppSystemLogs_CL"]
    assert logs.row_count("ContainerAppSystemLogs_CL") == 1
    assert logs.row_count("ContainerAppConsoleLogs_CL") == 0


def test_missing_columns_and_service_columns(logs):
    logs.ingest(
        "ContainerAppSystemLogs_CL",
        [{"Reason_s": "RevisionReady", "Log_s": "Successfully provisioned revision 'a--1'"}],
        visible_at=T0,
    )
    (row,) = select_all(logs, "ContainerAppSystemLogs_CL", T0)
    assert row["Reason_s"] == "RevisionReady"
    assert row["ReplicaName_s"] == ""  # Kusto strings are never null
    assert row["Count_d"] is None
    assert row["time_t"] is None
    assert row["TimeGenerated"] == "2026-06-29T08:00:00Z"  # ingestion time when not given
    assert row["TenantId"] == WS
    assert row["SourceSystem"] == "RestAPI"
    assert row["Type"] == "ContainerAppSystemLogs_CL"


def test_resource_specific_system_logs_keep_type_as_severity(logs):
    logs.ingest(
        "ContainerAppSystemLogs",
        [{"Type": "Warning", "Reason": "ContainerBackOff", "Count": 106, "Log": "Persistent Failure"}],
        visible_at=T0,
    )
    (row,) = select_all(logs, "ContainerAppSystemLogs", T0)
    assert (row["Type"], row["Count"], row["SourceSystem"]) == ("Warning", 106, "Azure")


def test_unknown_column_is_refused_and_nothing_is_stored(logs):
    rows = [{"Reason_s": "PullingImage"}, {"Reason": "PullingImage"}]
    with pytest.raises(LogIngestionError, match=r"row 1 has column\(s\) \['Reason'\]"):
        logs.ingest("ContainerAppSystemLogs_CL", rows, visible_at=T0)
    assert logs.tables() == []
    assert logs.row_count("ContainerAppSystemLogs_CL") == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"Count_d": "3"}, r"row 0: column 'Count_d' \(real\): expected a number"),
        ({"Log_s": 5}, r"column 'Log_s' \(string\): expected a string"),
        ({"TimeGenerated": "yesterday"}, r"column 'TimeGenerated' \(datetime\): not an ISO 8601"),
        ({"Type": "Heartbeat"}, r"Type is the table name"),
    ],
)
def test_bad_values_are_refused_with_row_and_column(logs, row, message):
    with pytest.raises(LogIngestionError, match=message):
        logs.ingest("ContainerAppSystemLogs_CL", [row], visible_at=T0)
    assert logs.tables() == []


def test_unknown_table_is_refused(logs):
    with pytest.raises(LogIngestionError, match="unknown table 'ContainerAppSystemLog_CL'"):
        logs.ingest("ContainerAppSystemLog_CL", [{}], visible_at=T0)


def test_typed_values_round_trip(logs):
    logs.ingest(
        "ContainerAppConsoleLogs_CL",
        [
            {
                "TimeGenerated": dt.datetime(2022, 9, 25, 20, 35, 43, 597000, tzinfo=dt.UTC),
                "time_t": "2022-09-25T20:35:42.742Z",
                "_timestamp_d": 1664138142.74275,
                "ContainerGroupId_g": "26D54061-B088-4AD7-A8CA-BAE0990785E4",
                "Log_s": "Stdout",
                "Stream_s": "stdout",
            }
        ],
        visible_at=T0,
    )
    (row,) = select_all(logs, "ContainerAppConsoleLogs_CL", T0)
    assert row["TimeGenerated"] == "2022-09-25T20:35:43.597Z"
    assert row["time_t"] == "2022-09-25T20:35:42.742Z"
    assert row["_timestamp_d"] == 1664138142.74275
    assert row["ContainerGroupId_g"] == "26d54061-b088-4ad7-a8ca-bae0990785e4"


def test_datetime_parsing_keeps_ticks():
    assert parse_datetime_ns("2026-06-29T08:50:15.7662306Z") == to_ns(T0) + (50 * 60 + 15) * 10**9 + 766230600
    assert parse_datetime_ns("2026-06-29T10:00:00+02:00") == to_ns(T0)
    assert to_ns(dt.datetime(2026, 6, 29, 8, 0)) == to_ns(T0)  # naive is UTC


def test_concurrent_ingest_and_query(logs):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                logs.ingest(
                    "ContainerAppSystemLogs_CL",
                    [{"Reason_s": f"w{n}", "Count_d": float(i)} for _ in range(4)],
                    visible_at=T0,
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(25):
                if logs.tables(now=T0):
                    run_query(logs, "ContainerAppSystemLogs_CL | summarize count() by Reason_s", None, T0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    body = run_query(logs, "ContainerAppSystemLogs_CL | summarize count() by Reason_s", None, T0)
    assert sorted(body["tables"][0]["rows"]) == [[f"w{n}", 100] for n in range(4)]


def test_closed_store_refuses_work():
    store = WorkspaceLogs(WS)
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.ingest("ContainerAppSystemLogs_CL", [{}], visible_at=T0)
