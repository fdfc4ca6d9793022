"""``replicas``: a revision's replicas (``az containerapp replica list``): how many, and per replica its
running state, its first container's restart count, or the exit code of its last termination.

Replica answers (``Microsoft.App/containerApps/revisions/replicas``, api 2025-01-01) carry
``properties.runningState`` (``Running``, ``NotRunning``, ``Unknown``) and per container ``restartCount``,
``runningState`` and ``runningStateDetails``; the exit code is not a field of its own: Azure writes it in
the container's ``runningStateDetails`` and in the ``ContainerTerminated`` system log (``... exit code
'137'``), so ``exit_code`` reads it from there (None when no termination is recorded).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.probes.base import Observation, fetch, resource_name
from pytest_acalab.probes.revisions import fetch_revisions, latest_of_app

__all__ = ["replica_values", "replicas"]

FIELDS = ("count", "names", "runningState", "restartCount", "exitCode", "containerState")
_EXIT_CODE = re.compile(r"exit code\D{0,3}(\d+)", re.IGNORECASE)


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
    codes = []
    for r in ordered:
        match = _EXIT_CODE.search(str(_first_container(r).get("runningStateDetails") or ""))
        codes.append(int(match.group(1)) if match else None)
    return codes


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
    value = replica_values(items, field)
    shown = "; ".join(f"{r.get('name')}: {(r.get('properties') or {}).get('runningState')}, restarts "
                      f"{_first_container(r).get('restartCount')}" for r in items) or "no replica"
    return Observation(value, "replicas", f"revision '{wanted}': {shown}",
                       {"revision": wanted, "observed": {"replicas": len(items)}})
