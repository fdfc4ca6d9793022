"""Microsoft.Authorization over HTTP: role assignments at any scope, built-in role definitions.

Role assignments are *extension* resources: their id is ``{scope}/providers/Microsoft.Authorization/
roleAssignments/{guid}`` with ``{scope}`` a subscription, a resource group or any resource id. The
platform's generic dispatch parses ``.../providers/{ns}/{type}/{name}`` ids only, so these are explicit
routes (template deployments reach them too: ``platform.call`` goes through the same dispatch).
"""

from __future__ import annotations

import re
from typing import Any

from pytest_acalab.emulator.authorization.models import (
    ROLE_DEFINITIONS,
    AuthorizationError,
    RoleAssignments,
    normalize_scope,
)
from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError, resource_group_not_found, resource_not_found
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.resource_types import ResourceId

_ASSIGNMENTS = "{scope:path}/providers/Microsoft.Authorization/roleAssignments"
_DEFINITIONS = "{scope:path}/providers/Microsoft.Authorization/roleDefinitions"
_PRINCIPAL_FILTER = re.compile(r"^\s*(?:assignedTo\('(?P<a>[^']+)'\)|principalId\s+eq\s+'(?P<p>[^']+)')\s*$", re.I)
_ROLE_NAME_FILTER = re.compile(r"^\s*roleName\s+eq\s+'(?P<name>[^']+)'\s*$", re.I)


class Authorization:
    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.assignments = RoleAssignments(platform.store.subscription_id, platform.clock.now, self._scope_exists)

    # scopes ------------------------------------------------------------------------------------
    def _scope_exists(self, scope: str) -> bool:
        parts = [p for p in scope.split("/") if p]
        if len(parts) < 2 or parts[0].lower() != "subscriptions":
            return False
        if parts[1].lower() != self.p.store.subscription_id.lower():
            return False
        if len(parts) == 2:
            return True
        if len(parts) >= 4 and parts[2].lower() == "resourcegroups":
            if self.p.store.group(parts[3]) is None:
                return False
            return len(parts) == 4 or self.p.store.get(normalize_scope(scope)) is not None
        return False

    def _check_scope(self, scope: str) -> str:
        """The normalised scope, or ARM's error for a scope that does not exist."""
        scope = normalize_scope(scope)
        parts = [p for p in scope.split("/") if p]
        if len(parts) < 2 or parts[0].lower() != "subscriptions":
            raise ArmError(400, "InvalidRoleAssignmentScope", f"The scope '{scope}' is not valid.")
        self.p.check_subscription(parts[1])
        if len(parts) == 2:
            return scope
        if len(parts) < 4 or parts[2].lower() != "resourcegroups":
            raise ArmError(400, "InvalidRoleAssignmentScope", f"The scope '{scope}' is not valid.")
        if self.p.store.group(parts[3]) is None:
            raise resource_group_not_found(parts[3])
        if len(parts) > 4 and self.p.store.get(scope) is None:
            try:
                rid = ResourceId.parse(scope)
            except ArmError:
                raise ArmError(400, "InvalidRoleAssignmentScope", f"The scope '{scope}' is not valid.") from None
            raise resource_not_found(rid.type_path, rid.name, rid.resource_group)
        return scope

    # role assignments --------------------------------------------------------------------------
    def put(self, req: Request, scope: str, name: str) -> Response:
        scope = self._check_scope(scope)
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: "
                           "'Required property 'properties' not found in JSON.'.")
        creator = (req.principal or {}).get("oid")
        with self.p.lock:
            try:
                item, created = self.assignments.put(scope, name, body["properties"], creator)
            except AuthorizationError as exc:
                raise ArmError(exc.status, exc.code, exc.message) from None
        return Response.json(201 if created else 200, item.body())

    def get(self, req: Request, scope: str, name: str) -> Response:
        scope = self._check_scope(scope)
        item = self.assignments.get(scope, name)
        if item is None:
            raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
        return Response.json(200, item.body())

    def delete(self, req: Request, scope: str, name: str) -> Response:
        scope = self._check_scope(scope)
        with self.p.lock:
            item = self.assignments.delete(scope, name)
        if item is None:
            return Response.empty(204)
        return Response.json(200, item.body())

    def list(self, req: Request, scope: str) -> Response:
        scope = self._check_scope(scope)
        expr = (req.query_ci("$filter") or "").strip()
        at_scope, principal = False, None
        for clause in [c for c in re.split(r"\s+and\s+", expr, flags=re.I) if c.strip()]:
            if clause.strip().lower() == "atscope()":
                at_scope = True
                continue
            m = _PRINCIPAL_FILTER.match(clause)
            if not m:
                raise ArmError(400, "UnsupportedQuery", f"The filter '{expr}' is not supported.")
            principal = m["a"] or m["p"]
        items = self.assignments.list(scope, at_scope_only=at_scope, principal_id=principal)
        return self.p.page(req, [a.body() for a in items])

    # role definitions --------------------------------------------------------------------------
    def _definition(self, scope: str, guid: str) -> dict[str, Any]:
        sub = self.p.store.subscription_id
        return {
            "id": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "type": "Microsoft.Authorization/roleDefinitions", "name": guid,
            "properties": {"roleName": ROLE_DEFINITIONS[guid], "type": "BuiltInRole",
                           "description": f"Built-in role {ROLE_DEFINITIONS[guid]}.", "assignableScopes": ["/"],
                           "permissions": []},
        }

    def get_definition(self, req: Request, scope: str, guid: str) -> Response:
        if guid.lower() not in ROLE_DEFINITIONS:
            raise ArmError(404, "RoleDefinitionDoesNotExist",
                           f"The specified role definition with ID '{guid}' does not exist.")
        return Response.json(200, self._definition(scope, guid.lower()))

    def list_definitions(self, req: Request, scope: str) -> Response:
        expr = req.query_ci("$filter")
        wanted = None
        if expr:
            m = _ROLE_NAME_FILTER.match(expr)
            if not m:
                raise ArmError(400, "UnsupportedQuery", f"The filter '{expr}' is not supported.")
            wanted = m["name"].lower()
        return self.p.page(req, [self._definition(scope, g) for g, n in sorted(ROLE_DEFINITIONS.items())
                                 if wanted is None or n.lower() == wanted])

    def register(self) -> None:
        p = self.p
        p.services.authorization = self.assignments
        p.route("GET", _ASSIGNMENTS, self.list, api_version=True)
        p.route("PUT", _ASSIGNMENTS + "/{name}", self.put, api_version=True)
        p.route("GET", _ASSIGNMENTS + "/{name}", self.get, api_version=True)
        p.route("DELETE", _ASSIGNMENTS + "/{name}", self.delete, api_version=True)
        p.route("GET", _DEFINITIONS, self.list_definitions, api_version=True)
        p.route("GET", _DEFINITIONS + "/{guid}", self.get_definition, api_version=True)


def register(platform: Platform) -> None:
    Authorization(platform).register()
