"""``system_logs``: the app's system log records from the event stream or from Log Analytics.

Both sources are normalised to one record shape ``{time, type, reason, message, revision, replica, app,
count, source}`` so the same filters apply (https://learn.microsoft.com/azure/container-apps/logging; shapes
from the captures in tests/contract/data):

* event stream: NDJSON ``{"TimeStamp","Type","ContainerAppName","RevisionName","ReplicaName","Msg",
  "Reason","EventSource","Count"}``, timestamps ``2025-05-24T17:22:34Z`` or
  ``2025-05-24 17:22:29.4269018 +0000 UTC``, some lines all null;
* Log Analytics: ``ContainerAppSystemLogs_CL`` (legacy, suffixed columns ``Log_s``, ``Reason_s``,
  ``Type_s``, ``Count_d``...; its ``Type`` column is the table name) or ``ContainerAppSystemLogs``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import LabError
from pytest_acalab.polling import describe_error
from pytest_acalab.probes.base import (
    Observation,
    ProbeError,
    fetch,
    iso,
    parse_timestamp,
    resource_name,
)
from pytest_acalab.probes.revisions import fetch_app, fetch_revisions, latest_of_app

__all__ = [
    "LEGACY_TABLE",
    "TABLE",
    "LogFilter",
    "eventstream_url",
    "filter_records",
    "is_missing_table",
    "kql_for",
    "normalise_la_rows",
    "parse_eventstream",
    "query_log_analytics",
    "read_eventstream",
    "records_excerpt",
    "table_for_destination",
]

LEGACY_TABLE = "ContainerAppSystemLogs_CL"
TABLE = "ContainerAppSystemLogs"
TAIL_LINES = 300
_MISSING_TABLE = re.compile(r"Failed to resolve table or column expression named '([^']+)'")


# ---- parsing (pure) ------------------------------------------------------------------------------------

def _record(*, time: Any, type_: Any, reason: Any, message: Any, revision: Any, replica: Any, app: Any,
            count: Any, source: str) -> dict[str, Any]:
    when = parse_timestamp(time)
    try:
        n = int(float(count)) if count not in (None, "") else None
    except (TypeError, ValueError):
        n = None
    return {"time": iso(when), "type": type_ or None, "reason": reason or None, "message": message,
            "revision": revision or None, "replica": replica or None, "app": app or None, "count": n,
            "source": source}


def ndjson_objects(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of a log stream answer (NDJSON, one per line): blank, non-JSON and non-object lines,
    which the stream interleaves with its own notices, are skipped."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            yield item


def parse_eventstream(text: str) -> list[dict[str, Any]]:
    """Records of an event-stream answer (NDJSON)."""
    return [_record(time=item.get("TimeStamp"), type_=item.get("Type"), reason=item.get("Reason"),
                    message=item.get("Msg"), revision=item.get("RevisionName"), replica=item.get("ReplicaName"),
                    app=item.get("ContainerAppName"), count=item.get("Count"), source="eventstream")
            for item in ndjson_objects(text)]


def normalise_la_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Records of Log Analytics rows (column name -> value), either table's schema."""
    out = []
    for row in rows:
        legacy = any(k.endswith(("_s", "_d")) for k in row)

        def col(name: str, suffix: str, row: Mapping[str, Any] = row, legacy: bool = legacy) -> Any:
            return row.get(f"{name}{suffix}") if legacy else row.get(name)

        out.append(_record(time=row.get("TimeGenerated"), type_=col("Type", "_s"), reason=col("Reason", "_s"),
                           message=col("Log", "_s"), revision=col("RevisionName", "_s"),
                           replica=col("ReplicaName", "_s"), app=col("ContainerAppName", "_s"),
                           count=col("Count", "_d"), source="log_analytics"))
    return out


class LogFilter:
    """The ``system_logs`` filters: reason (exact, text or list), message (regex), revision, type, since."""

    def __init__(self, *, reason: str | list[str] | None = None, message: str | None = None,
                 revision: str | None = None, type: str | None = None, since: datetime | None = None) -> None:
        self.reasons = None if reason is None else ({reason} if isinstance(reason, str) else set(reason))
        self.message = re.compile(message) if message else None
        self.revision = revision
        self.type = type
        self.since = since

    def __call__(self, record: Mapping[str, Any]) -> bool:
        if self.since is not None:
            when = parse_timestamp(record.get("time"))
            if when is None or when < self.since:  # a line without a time cannot be placed in a phase
                return False
        if self.reasons is not None and record.get("reason") not in self.reasons:
            return False
        if self.type is not None and record.get("type") != self.type:
            return False
        if self.revision is not None and record.get("revision") != self.revision:
            return False
        if self.message is not None and not self.message.search(str(record.get("message") or "")):
            return False
        return True

    def describe(self) -> str:
        parts = []
        if self.reasons is not None:
            parts.append("reason " + "|".join(sorted(self.reasons)))
        if self.message is not None:
            parts.append(f"message /{self.message.pattern}/")
        if self.revision is not None:
            parts.append(f"revision {self.revision}")
        if self.type is not None:
            parts.append(f"type {self.type}")
        if self.since is not None:
            parts.append(f"since {iso(self.since)}")
        return ", ".join(parts) or "no filter"


def filter_records(records: Iterable[Mapping[str, Any]], flt: LogFilter) -> list[dict[str, Any]]:
    return [dict(r) for r in records if flt(r)]


def records_excerpt(matching: list[dict[str, Any]], total: int, flt: LogFilter, where: str) -> str:
    head = f"{len(matching)} of {total} {where} records match ({flt.describe()})"
    shown = [f"{r['time']} {r['type']} {r['reason']} [{r['revision']}] {r['message']}"
             + (f" (count {r['count']})" if r.get("count") not in (None, 0, 1) else "") for r in matching[-4:]]
    return head + (": " + " | ".join(shown) if shown else "")


def eventstream_url(endpoint: str, subscription: str, resource_group: str, app: str,
                    tail: int = TAIL_LINES) -> str:
    """The app's event-stream URL on the host of ``eventStreamEndpoint`` (as the CLI builds it)."""
    index = endpoint.find("/subscriptions/")
    base = endpoint[:index] if index >= 0 else endpoint.rstrip("/")
    return (f"{base}/subscriptions/{subscription}/resourceGroups/{resource_group}/containerApps/{app}"
            f"/eventstream?follow=false&output=json&tailLines={tail}")


def table_for_destination(destination: str | None, legacy: str = LEGACY_TABLE, resource: str = TABLE) -> str | None:
    """``log-analytics`` -> the legacy custom table; ``azure-monitor`` -> the resource-specific table."""
    if destination == "log-analytics":
        return legacy
    if destination == "azure-monitor":
        return resource
    return None


LA_ROW_LIMIT = 1000
"""Rows one Log Analytics read returns at most: the newest ones (a crash loop writes thousands)."""


def kql_for(table: str, app: str, revision: str | None = None) -> str:
    """The query a user types: the app's rows (of one revision, when given), the newest first, capped."""
    suffix = "_s" if table.endswith("_CL") else ""
    clauses = [f"ContainerAppName{suffix} == '{app.replace(chr(39), '')}'"]
    if revision:
        clauses.append(f"RevisionName{suffix} == '{revision.replace(chr(39), '')}'")
    return f"{table} | where {' and '.join(clauses)} | order by TimeGenerated desc | take {LA_ROW_LIMIT}"


def is_missing_table(exc: BaseException) -> str | None:
    """The table name when Log Analytics answered "Failed to resolve table ..." (no row ever ingested)."""
    texts = [str(exc)]
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            texts.append(response.text())
        except Exception:  # noqa: BLE001 - best effort, the message may be enough
            pass
    for text in texts:
        match = _MISSING_TABLE.search(text or "")
        if match:
            return match.group(1)
    return None


# ---- fetching (SDK + requests) -------------------------------------------------------------------------

def http_session() -> Any:
    """The ``requests`` session the event-stream GET uses (one place to plug a transport in)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    import requests

    return requests.Session()


def read_eventstream(ctx: LabContext, app_name: str, app: Mapping[str, Any], deadline: float) -> str:
    endpoint = (app.get("properties") or {}).get("eventStreamEndpoint")
    if not endpoint:
        raise ProbeError(f"app '{app_name}' has no eventStreamEndpoint: its system logs cannot be streamed")
    token_body = fetch(ctx, lambda: ctx.clients.apps.container_apps.get_auth_token(
        ctx.resource_group, app_name).as_dict(), what=f"POST getAuthToken of app '{app_name}'", deadline=deadline)
    token = (token_body.get("properties") or {}).get("token")
    if not token:
        raise ProbeError(f"getAuthToken of app '{app_name}' returned no token")
    ctx.scrubber.add(token)
    url = eventstream_url(endpoint, ctx.backend.subscription_id, ctx.resource_group, app_name)

    def get() -> str:
        with http_session() as session:
            resp = session.get(url, headers={"Authorization": f"Bearer {token}"}, verify=ctx.backend.tls_verify,
                               timeout=(10, 60))
            resp.raise_for_status()
            return resp.text

    return fetch(ctx, get, what=f"GET event stream of app '{app_name}'", deadline=deadline)


def query_log_analytics(ctx: LabContext, app_name: str, app: Mapping[str, Any], since: datetime,
                        deadline: float, table_names: tuple[str, str] = (LEGACY_TABLE, TABLE),
                        revision: str | None = None) -> tuple[list[dict[str, Any]] | None, str]:
    """(rows, note) of the app's rows (of ``revision``, if given; oldest first) in the workspace its environment
    sends logs to; ``table_names`` are the (legacy, resource-specific) table names. Rows None means "nothing
    to read here", with the reason."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError

    env_id = (app.get("properties") or {}).get("managedEnvironmentId") or \
        (app.get("properties") or {}).get("environmentId")
    if not env_id:
        return None, f"app '{app_name}' names no managed environment"
    parts = env_id.split("/")
    env_rg, env_name = parts[4], parts[-1]
    env = fetch(ctx, lambda: ctx.clients.apps.managed_environments.get(env_rg, env_name).as_dict(),
                what=f"GET managed environment '{env_name}'", deadline=deadline)
    logs_cfg = (env.get("properties") or {}).get("appLogsConfiguration") or {}
    destination = logs_cfg.get("destination")
    table = table_for_destination(destination, *table_names)
    if table is None:
        return None, (f"environment '{env_name}' sends no logs to Log Analytics "
                      f"(appLogsConfiguration.destination: {destination})")
    customer_id = (logs_cfg.get("logAnalyticsConfiguration") or {}).get("customerId")
    if not customer_id:
        customer_id = _workspace_customer_id(ctx)
    if not customer_id:
        return None, f"no Log Analytics workspace id for environment '{env_name}' (destination {destination})"
    query = kql_for(table, app_name, revision)
    now = datetime.now(UTC)

    def run() -> Any:
        return ctx.clients.logs.query_workspace(customer_id, query, timespan=(since, max(now, since)))

    try:
        result = fetch(ctx, run, what=f"Log Analytics query on {table}", deadline=deadline,
                       keep=(HttpResponseError,))
    except HttpResponseError as exc:
        missing = is_missing_table(exc)
        if missing:
            return [], (f"table {missing} does not exist yet in workspace {customer_id} "
                        "(Azure creates it with the first ingested row: none so far)")

        raise ProbeError(f"Log Analytics query on {table}: {describe_error(exc)}") from exc
    tables = getattr(result, "tables", None) or getattr(result, "partial_data", None) or []
    rows: list[dict[str, Any]] = []
    for t in tables:
        columns = list(t.columns)
        rows.extend(dict(zip(columns, list(r), strict=False)) for r in t.rows)
    rows.reverse()  # the query takes the newest rows; records read oldest first
    capped = f" (the newest {LA_ROW_LIMIT}: older rows not read)" if len(rows) >= LA_ROW_LIMIT else ""
    return rows, f"{table} in workspace {customer_id}{capped}"


def _workspace_customer_id(ctx: LabContext) -> str | None:
    for alias, rtype in ctx.lab.infra.resources.items():
        if rtype.lower() == "microsoft.operationalinsights/workspaces":
            try:
                return ctx.resource(alias).field("customerId")
            except Exception:  # noqa: BLE001 - absent workspace: the caller reports "no workspace id"
                return None
    return None


def system_logs(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    source = args.get("source") or "eventstream"
    try:
        since = ctx.since(args.get("since") or "phase")
    except LabError as exc:
        raise ProbeError(str(exc)) from exc
    revision = args.get("revision")
    app = fetch_app(ctx, app_name, deadline)
    if revision == "latest":
        latest = latest_of_app(ctx, app_name, fetch_revisions(ctx, app_name, deadline), deadline)
        revision = str(latest.get("name")) if latest else "<none>"
    flt = LogFilter(reason=args.get("reason"), message=args.get("message"), revision=revision,
                    type=args.get("type"), since=since)
    if source == "eventstream":
        if not (app.get("properties") or {}).get("eventStreamEndpoint"):
            state = (app.get("properties") or {}).get("provisioningState")
            return Observation([], "eventstream",
                               f"app '{app_name}' has no eventStreamEndpoint (provisioningState: {state}): "
                               "Azure serves no event stream for an app whose creation failed")
        records = parse_eventstream(read_eventstream(ctx, app_name, app, deadline))
        where = "event stream"
    elif source == "log_analytics":
        rows, note = query_log_analytics(ctx, app_name, app, since, deadline, revision=revision)
        if rows is None:
            return Observation([], "log_analytics", note)
        records = normalise_la_rows(rows)
        if not rows:
            return Observation([], "log_analytics", note if "does not exist" in note
                               else f"0 rows in {note} ({flt.describe()})")
        where = note
    else:
        raise ProbeError(f"system_logs: unknown source '{source}' (eventstream or log_analytics)")
    matching = filter_records(records, flt)
    return Observation(matching, source, records_excerpt(matching, len(records), flt, where),
                       {"total": len(records)})
