"""Microsoft.ManagedIdentity/userAssignedIdentities over HTTP.

A user-assigned identity is a tracked resource whose ``properties`` hold the service principal Entra made
for it: ``tenantId``, ``principalId`` (its object id, what role assignments name) and ``clientId`` (what a
workload passes to ``ManagedIdentityCredential(client_id=...)``). Shape from the REST reference
(azure-rest-api-specs, specification/msi/resource-manager/Microsoft.ManagedIdentity/stable/2023-01-31/
ManagedIdentity.json, ``Identity``); PUT answers 201 when created, 200 when updated, without an operation.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Response
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.store import Resource

NAMESPACE = "Microsoft.ManagedIdentity"
IDENTITY_TYPE = f"{NAMESPACE}/userAssignedIdentities"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")


class UserAssignedIdentities(ResourceType):
    namespace = NAMESPACE
    type_name = "userAssignedIdentities"

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                        "deserialized.")
        if not _NAME.match(rid.name):
            # The rule is the REST reference's name pattern; the wording is the emulator's.
            raise ArmError(400, "InvalidResourceName",
                           f"Resource name {rid.name} is invalid. The name can contain only letters, numbers, "
                           "underscores and hyphens, must start with a letter or number and be 3 to 128 "
                           "characters long.")
        with ctx.platform.lock:
            existing = ctx.store.get(rid.id)
            location = body.get("location") or (existing.location if existing else None)
            if not location:
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            if existing is not None:
                existing.body["tags"] = body.get("tags", existing.body.get("tags"))
                return Response.json(200, existing.body)
            out: dict[str, Any] = {
                "location": str(location).lower().replace(" ", ""), "tags": body.get("tags") or {},
                "id": rid.id, "name": rid.name, "type": IDENTITY_TYPE,
                "properties": {"tenantId": ctx.store.tenant_id, "principalId": str(uuid.uuid4()),
                               "clientId": str(uuid.uuid4())},
            }
            ctx.store.add(Resource(rid.id, rid.name, IDENTITY_TYPE, rid.resource_group, out["location"], out,
                                   None, ctx.clock.now()))
            return Response.json(201, out)

    def patch(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        res = self.lookup(ctx, rid)
        with ctx.platform.lock:
            if isinstance(body, dict) and "tags" in body:
                res.body["tags"] = body["tags"]
        return Response.json(200, res.body)

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            res = ctx.store.get(rid.id)
            if res is None:
                return Response.empty(204)
            ctx.store.remove(rid.id)
            authorization = ctx.platform.services.authorization
            if authorization is not None:
                authorization.remove_under(rid.id)
            return Response.empty(200)


def register(platform: Platform) -> None:
    platform.register_type(UserAssignedIdentities())
