"""Role assignments as lab actions: grant an app's managed identity a built-in role on a lab resource.

One code path for both backends: the assignment is an ARM extension resource written with the generic
resources client (``{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}``). Its name is derived
from scope, principal and role, as Bicep's ``guid()`` idiom does, so re-running the action is idempotent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any

from pytest_acalab.actions.base import Outcome, resource, sdk
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action

ROLE_API = "2022-04-01"
BUILTIN_ROLES = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
}
"""Azure's built-in role definition ids, identical in every tenant
(https://learn.microsoft.com/azure/role-based-access-control/built-in-roles)."""


def role_id(name: str) -> str:
    for known, guid in BUILTIN_ROLES.items():
        if known.lower() == name.strip().lower():
            return guid
    raise ActionError(f"unknown built-in role '{name}' (known: {', '.join(BUILTIN_ROLES)})")


def app_principal(ctx: LabContext, alias: str) -> str:
    """The principal id of an app's system-assigned identity (read fresh: it exists once the app does)."""
    app = resource(ctx, alias)
    body = ctx.resource(alias, refresh=True).body if not (app.body.get("identity") or {}).get("principalId") \
        else app.body
    principal = (body.get("identity") or {}).get("principalId")
    if not principal:
        raise ActionError(f"app '{app.name}' has no system-assigned identity: no principal to grant a role to")
    return str(principal)


def assign_role(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError

    scope = resource(ctx, args["scope"])
    principal = app_principal(ctx, args["app"])
    guid = role_id(str(args["role"]))
    sub = ctx.backend.subscription_id
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.id.lower()}|{principal}|{guid}"))
    assignment_id = f"{scope.id}/providers/Microsoft.Authorization/roleAssignments/{name}"
    parameters = {"properties": {
        "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "principalId": principal, "principalType": "ServicePrincipal"}}
    api = ctx.clients.resources.resources
    try:
        sdk(ctx, lambda: api.begin_create_or_update_by_id(assignment_id, api_version=ROLE_API,
                                                          parameters=parameters).result(),
            what=f"assign '{args['role']}' on {scope.name}", deadline=deadline, keep=(HttpResponseError,))
    except HttpResponseError as exc:
        if exc.status_code in (401, 403) or (exc.status_code or 0) >= 500:
            raise ActionError(f"assign '{args['role']}' on {scope.name}: {exc}") from exc
        err = getattr(exc, "error", None)
        return Outcome.failed(f"role assignment refused: ({getattr(err, 'code', '')}) {getattr(err, 'message', exc)}",
                              code=getattr(err, "code", None))
    return Outcome.succeeded(f"'{args['role']}' assigned to {principal} on {scope.name}", assignment=assignment_id,
                             principalId=principal)


def delete_role_assignment(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    """Delete every assignment of ``role`` to the app's identity made at the resource (not above it): what
    a user does by hand after a CD disconnect left one behind (``az role assignment delete --ids ...``)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.rest import HttpRequest

    scope = resource(ctx, args["scope"])
    principal = app_principal(ctx, args["app"])
    guid = role_id(str(args["role"]))
    client = ctx.clients.resources

    def listed() -> list[dict[str, Any]]:
        resp = client.send_request(HttpRequest(
            "GET", f"{scope.id}/providers/Microsoft.Authorization/roleAssignments?api-version={ROLE_API}"
                   f"&$filter=assignedTo('{principal}')"))
        resp.raise_for_status()
        return list(resp.json().get("value") or [])

    items = sdk(ctx, listed, what=f"role assignments on {scope.name}", deadline=deadline)
    gone = [a for a in items
            if str((a.get("properties") or {}).get("roleDefinitionId", "")).lower().endswith(guid)
            and str((a.get("properties") or {}).get("scope", "")).lower() == scope.id.lower()]
    def delete(assignment_id: str) -> None:
        client.resources.begin_delete_by_id(assignment_id, api_version=ROLE_API).result()

    for item in gone:
        sdk(ctx, partial(delete, str(item["id"])), what=f"delete role assignment {item['name']}", deadline=deadline)
    if not gone:
        return Outcome.failed(f"no '{args['role']}' assignment of {principal} at {scope.name} to delete")
    return Outcome.succeeded(f"deleted {len(gone)} '{args['role']}' assignment(s) of {principal} at {scope.name}",
                             deleted=[a["name"] for a in gone])
