"""Which built-in roles an app's managed identity holds on a lab resource (assigned there or above)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import LabError, ProbeError
from pytest_acalab.probes.base import Observation, fetch

ROLE_API = "2022-04-01"


def role_assignments(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.rest import HttpRequest

    try:
        scope = ctx.resource(args["scope"])
        app = ctx.resource(args["app"], refresh=True)
    except LabError as exc:
        raise ProbeError(str(exc)) from exc
    principal = (app.body.get("identity") or {}).get("principalId")
    if not principal:
        return Observation([], "role names", f"app '{app.name}' has no system-assigned identity")
    client = ctx.clients.resources

    def get(url: str) -> Any:
        resp = client.send_request(HttpRequest("GET", url))
        resp.raise_for_status()
        return resp.json()

    listed = fetch(ctx, lambda: get(
        f"{scope.id}/providers/Microsoft.Authorization/roleAssignments?api-version={ROLE_API}"
        f"&$filter=assignedTo('{principal}')"), what=f"role assignments on {scope.name}", deadline=deadline)
    names = []
    for item in listed.get("value") or []:
        definition = (item.get("properties") or {}).get("roleDefinitionId") or ""
        shown = fetch(ctx, partial(get, f"{definition}?api-version={ROLE_API}"), what=f"role definition {definition}",
                      deadline=deadline)
        names.append((shown.get("properties") or {}).get("roleName") or definition)
    return Observation(sorted(names), "role names",
                       f"roles of {principal} on {scope.name}: {', '.join(sorted(names)) or 'none'}")
