"""``console_logs``: what the app's containers wrote to stdout/stderr, from the log stream
(``az containerapp logs show --type console``, one stream per replica container) or from Log Analytics
(``ContainerAppConsoleLogs_CL`` / ``ContainerAppConsoleLogs``,
https://learn.microsoft.com/azure/container-apps/log-monitoring).

Both are normalised to ``{time, log, stream, revision, replica, source}``; the stream's two connection
lines ("Connecting to the container ...") are the service's, not the container's, and are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.probes.base import Observation, ProbeError, fetch, iso, parse_timestamp, resource_name
from pytest_acalab.probes.logs import TAIL_LINES, http_session, ndjson_objects, query_log_analytics
from pytest_acalab.probes.revisions import fetch_app, fetch_revisions, latest_of_app

__all__ = ["LEGACY_TABLE", "TABLE", "console_logs", "normalise_console_rows", "parse_console_stream"]

LEGACY_TABLE = "ContainerAppConsoleLogs_CL"
TABLE = "ContainerAppConsoleLogs"
_CONNECTION = re.compile(r"^(Connecting to the container '|Successfully Connected to container: ')")


def parse_console_stream(text: str, revision: str | None, replica: str | None) -> list[dict[str, Any]]:
    """Records of a console log stream answer (NDJSON ``{"TimeStamp", "Log": "F <line>"}``)."""
    out = []
    for item in ndjson_objects(text):
        log = str(item.get("Log") or "")
        if not log or _CONNECTION.match(log):
            continue
        tag, _, rest = log.partition(" ")
        out.append({"time": iso(parse_timestamp(item.get("TimeStamp"))), "log": rest if tag in ("F", "P") else log,
                    "stream": None, "revision": revision, "replica": replica, "source": "logstream"})
    return out


def normalise_console_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of either console table -> the record shape."""
    out = []
    for row in rows:
        suffix = "_s" if "Log_s" in row else ""
        out.append({"time": iso(parse_timestamp(row.get("TimeGenerated"))), "log": row.get(f"Log{suffix}"),
                    "stream": row.get(f"Stream{suffix}"), "revision": row.get(f"RevisionName{suffix}"),
                    "replica": row.get(f"ContainerGroupName{suffix}"), "source": "log_analytics"})
    return out


def _keep(record: Mapping[str, Any], pattern: re.Pattern[str] | None, since: datetime,
          revision: str | None) -> bool:
    when = parse_timestamp(record.get("time"))
    if when is not None and when < since:
        return False
    if revision is not None and record.get("revision") != revision:
        return False
    return pattern is None or bool(pattern.search(str(record.get("log") or "")))


def _read_streams(ctx: LabContext, app_name: str, revision: str, deadline: float) -> list[dict[str, Any]]:
    api = ctx.clients.apps.container_apps_revision_replicas
    replicas = fetch(ctx, lambda: api.list_replicas(ctx.resource_group, app_name, revision).as_dict(),
                     what=f"list replicas of revision '{revision}'", deadline=deadline).get("value") or []
    if not replicas:
        return []
    token_body = fetch(ctx, lambda: ctx.clients.apps.container_apps.get_auth_token(
        ctx.resource_group, app_name).as_dict(), what=f"POST getAuthToken of app '{app_name}'", deadline=deadline)
    token = (token_body.get("properties") or {}).get("token")
    if not token:
        raise ProbeError(f"getAuthToken of app '{app_name}' returned no token")
    ctx.scrubber.add(token)
    records: list[dict[str, Any]] = []
    for replica in replicas:
        for container in (replica.get("properties") or {}).get("containers") or []:
            endpoint = container.get("logStreamEndpoint")
            if not endpoint:
                continue
            url = f"{endpoint}?follow=false&output=json&tailLines={TAIL_LINES}"

            def get(url: str = url) -> str:
                with http_session() as session:
                    resp = session.get(url, headers={"Authorization": f"Bearer {token}"},
                                       verify=ctx.backend.tls_verify, timeout=(10, 60))
                    resp.raise_for_status()
                    return str(resp.text)

            text = fetch(ctx, get, what=f"GET console log stream of replica '{replica.get('name')}'",
                         deadline=deadline)
            records.extend(parse_console_stream(text, revision, replica.get("name")))
    return records


def console_logs(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    source = args.get("source") or "logstream"
    since = ctx.since(args.get("since") or "phase")
    revision = args.get("revision")
    pattern = re.compile(args["message"]) if args.get("message") else None
    if revision == "latest" or (revision is None and source == "logstream"):
        latest = latest_of_app(ctx, app_name, fetch_revisions(ctx, app_name, deadline), deadline)
        if latest is None:
            return Observation([], source, f"app '{app_name}' has no revision: no console to read")
        revision = str(latest.get("name"))
    if source == "logstream":
        records = _read_streams(ctx, app_name, str(revision), deadline)
        where = f"console log stream of revision '{revision}'"
    else:
        app = fetch_app(ctx, app_name, deadline)
        rows, note = query_log_analytics(ctx, app_name, app, since, deadline, (LEGACY_TABLE, TABLE),
                                         revision=revision)
        if rows is None:
            return Observation([], "log_analytics", note)
        records, where = normalise_console_rows(rows), note
    matching = [r for r in records if _keep(r, pattern, since, revision)]
    shown = " | ".join(f"{r['time']} {r['log']}" for r in matching[-4:])
    return Observation(matching, source, f"{len(matching)} of {len(records)} lines of the {where} match"
                                         + (f": {shown}" if shown else ""), {"total": len(records)})
