"""``replicas``: a revision's replicas (``az containerapp replica list``): how many, and per replica its
running state, its first container's restart count, or the exit code of its last termination.

Replica answers (``Microsoft.App/containerApps/revisions/replicas``, api 2025-01-01) carry
``properties.runningState`` (``Running``, ``NotRunning``, ``Unknown``) and per container ``restartCount``,
``runningState`` and ``runningStateDetails``, and no exit code (azure-rest-api-specs,
specification/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01, ReplicaContainer): Azure
writes it only in the ``ContainerTerminated`` system log (``... terminated with exit code '137' and reason
...``), so ``exitCode`` reads each replica's latest such event from the event stream (None when it has none;
``""`` when Azure wrote an empty code, as for a probe failure).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.probes.base import Observation, fetch, resource_name
from pytest_acalab.probes.logs import parse_eventstream, read_eventstream
from pytest_acalab.probes.revisions import fetch_app, fetch_revisions, latest_of_app

__all__ = ["exit_codes", "replica_values", "replicas"]

FIELDS = ("count", "names", "runningState", "restartCount", "exitCode", "containerState")
_EXIT_CODE = re.compile(r"terminated with exit code '(\d*)'")


def _first_container(replica: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = (replica.get("properties") or {}).get("containers") or [{}]
    return containers[0] or {}


def replica_values(items: Sequence[Mapping[str, Any]], field: str) -> Any:
    """The value ``field`` names over a revision's replicas (REST JSON): ``count`` an int, the others one
    value per replica, in name order."""
    ordered = sorted(items, key=lambda r: str(r.get("name")))
    if field == "count":
        return len(ordered)
    if field == "names":
        return [str(r.get("name")) for r in ordered]
    if field == "runningState":
        return [(r.get("properties") or {}).get("runningState") for r in ordered]
    if field == "containerState":
        return [_first_container(r).get("runningState") for r in ordered]
    if field == "restartCount":
        return [_first_container(r).get("restartCount") for r in ordered]
    raise ValueError(f"unknown replicas field {field!r}")


def exit_codes(names: Sequence[str], records: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Per replica name, the exit code of its latest ``ContainerTerminated`` event (int, ``""`` or None)."""
    latest: dict[str, Any] = {}
    for record in records:  # the stream is in time order
        if record.get("reason") != "ContainerTerminated" or record.get("replica") not in names:
            continue
        match = _EXIT_CODE.search(str(record.get("message") or ""))
        if match:
            latest[str(record["replica"])] = int(match.group(1)) if match.group(1) else ""
    return [latest.get(name) for name in names]


def replicas(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    field = str(args.get("field") or "count")
    wanted = args.get("revision") or "latest"
    if wanted == "latest":
        latest = latest_of_app(ctx, app_name, fetch_revisions(ctx, app_name, deadline), deadline)
        if latest is None:
            return Observation(0 if field == "count" else [], "replicas", f"app '{app_name}' has no revision")
        wanted = str(latest.get("name"))
    api = ctx.clients.apps.container_apps_revision_replicas
    body = fetch(ctx, lambda: api.list_replicas(ctx.resource_group, app_name, wanted).as_dict(),
                 what=f"list replicas of revision '{wanted}'", deadline=deadline)
    items = body.get("value") or []
    if field == "exitCode":
        records = parse_eventstream(read_eventstream(ctx, app_name, fetch_app(ctx, app_name, deadline), deadline))
        value = exit_codes(replica_values(items, "names"), records)
    else:
        value = replica_values(items, field)
    shown = "; ".join(f"{r.get('name')}: {(r.get('properties') or {}).get('runningState')}, restarts "
                      f"{_first_container(r).get('restartCount')}" for r in items) or "no replica"
    return Observation(value, "replicas", f"revision '{wanted}': {shown}",
                       {"revision": wanted, "observed": {"replicas": len(items)}})
