"""Environment-level actions: where a Container Apps environment sends its apps' logs.

``set_logs_destination`` is ``az containerapp env update --logs-destination none|log-analytics|azure-monitor``
(with ``--logs-workspace-id``/``--logs-workspace-key`` for log-analytics): a PATCH of
``properties.appLogsConfiguration``. The workspace key is read with the workspace's ``sharedKeys`` action
and never shown (the scrubber learns it first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.actions.base import Outcome, resource, sdk
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action

WORKSPACE_API = "2020-08-01"
ENVIRONMENT_API = "2025-07-01"
DESTINATIONS = ("none", "log-analytics", "azure-monitor")


def _shared_key(ctx: LabContext, workspace_id: str, deadline: float) -> str:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.rest import HttpRequest

    def post() -> str:
        resp = ctx.clients.resources.send_request(
            HttpRequest("POST", f"{workspace_id}/sharedKeys?api-version={WORKSPACE_API}"))
        resp.raise_for_status()
        return str(resp.json().get("primarySharedKey") or "")

    key = sdk(ctx, post, what="read the workspace's shared key", deadline=deadline)
    if not key:
        raise ActionError(f"workspace {workspace_id} returned no shared key")
    ctx.scrubber.add(key)
    return key


def set_logs_destination(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError

    env = resource(ctx, args["environment"])
    destination = str(args["logs_destination"])
    if destination not in DESTINATIONS:
        raise ActionError(f"logs_destination '{destination}' is not one of {', '.join(DESTINATIONS)}")
    config: dict[str, Any] = {"destination": None if destination == "none" else destination}
    if destination == "log-analytics":
        if not args.get("workspace"):
            raise ActionError("logs_destination log-analytics needs a workspace (an alias of infra.resources)")
        workspace = resource(ctx, args["workspace"])
        config["logAnalyticsConfiguration"] = {"customerId": workspace.field("customerId"),
                                               "sharedKey": _shared_key(ctx, workspace.id, deadline)}
    body = {"properties": {"appLogsConfiguration": config}}
    api = ctx.clients.apps.managed_environments
    try:
        poller = sdk(ctx, lambda: api.begin_update(ctx.resource_group, env.name, body),
                     what=f"PATCH managed environment '{env.name}'", deadline=deadline, keep=(HttpResponseError,))
        poller.result(timeout=deadline)
    except HttpResponseError as exc:
        if exc.status_code in (401, 403) or (exc.status_code or 0) >= 500:
            raise ActionError(f"PATCH managed environment '{env.name}': {exc}") from exc
        err = getattr(exc, "error", None)
        return Outcome.failed(f"logs destination of '{env.name}' refused: ({getattr(err, 'code', '')}) "
                              f"{getattr(err, 'message', exc)}")
    shown = sdk(ctx, lambda: ctx.clients.resources.resources.get_by_id(env.id, api_version=ENVIRONMENT_API).as_dict(),
                what=f"GET managed environment '{env.name}'", deadline=deadline)
    now = ((shown.get("properties") or {}).get("appLogsConfiguration") or {}).get("destination")
    return Outcome.succeeded(f"environment '{env.name}' logs destination: {now}", destination=now)
