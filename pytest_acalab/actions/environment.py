"""``update_environment``: PATCH a managed environment's properties (as ``az containerapp env update``).

``properties`` is merged by ARM (a PATCH): ``{appLogsConfiguration: {destination: azure-monitor}}`` changes
that and keeps the rest. REST: azure-rest-api-specs specification/app/resource-manager/Microsoft.App/
ContainerApps/stable/2025-07-01/ManagedEnvironments.json (``ManagedEnvironments_Update``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.actions.base import Outcome, resource, sdk
from pytest_acalab.actions.registry import arm_message, refused
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action

__all__ = ["update_environment"]


def update_environment(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError

    env = resource(ctx, args["environment"])
    body = {"location": env.body.get("location"), "properties": dict(args["properties"])}
    api = ctx.clients.apps.managed_environments
    try:
        poller = sdk(ctx, lambda: api.begin_update(ctx.resource_group, env.name, body),
                     what=f"PATCH managed environment '{env.name}'", deadline=deadline, keep=(HttpResponseError,))
        result = poller.result(timeout=deadline)
    except HttpResponseError as exc:
        if not refused(exc) and getattr(getattr(exc, "error", None), "code", None) in (None, "InternalServerError"):
            raise ActionError(f"PATCH managed environment '{env.name}': {arm_message(exc)}") from exc
        return Outcome.failed(f"update of environment '{env.name}' failed: {arm_message(exc)}")
    if not poller.done():
        return Outcome.failed(f"update of environment '{env.name}' did not finish within {deadline:g}s")
    state = str(getattr(result.provisioning_state, "value", result.provisioning_state))
    changed = ", ".join(sorted(args["properties"]))
    if state not in ("Succeeded",):
        return Outcome.failed(f"environment '{env.name}' ended {state} after the update of {changed}",
                              provisioningState=state)
    return Outcome.succeeded(f"environment '{env.name}': {changed} updated", provisioningState=state)
