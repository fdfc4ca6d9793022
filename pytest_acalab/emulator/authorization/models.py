"""Role assignments (Microsoft.Authorization) as state: who holds which built-in role at which scope.

No HTTP here. Other providers ask ``roles_for(principal_id, resource_id)`` through
``platform.services.authorization`` (no import between providers): an assignment applies
to its scope and everything below it, as in Azure RBAC.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytest_acalab.emulator.platform.clock import iso

# Built-in role definitions the emulator knows (ids are Azure's, identical in every tenant).
ROLE_DEFINITIONS: dict[str, str] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "8311e382-0749-4cb8-b61a-304f252e45ec": "AcrPush",
    "c2f4ef07-c644-48eb-af81-4b1b4947fb11": "AcrDelete",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "21090545-7ca7-4776-b22c-e363652d74d2": "Key Vault Reader",
}
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ROLE_DEF_ID = re.compile(
    r"^(?:/subscriptions/[^/]+)?/providers/Microsoft\.Authorization/roleDefinitions/(?P<guid>[^/]+)$", re.IGNORECASE)
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")


class AuthorizationError(Exception):
    """Bad input for a role assignment; the HTTP layer answers it in ARM's shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def is_guid(text: str) -> bool:
    return bool(_GUID.match(text))


def role_guid(role_definition_id: str) -> str:
    """The GUID of a role definition id (full id or bare GUID); AuthorizationError when malformed/unknown."""
    m = _ROLE_DEF_ID.match(role_definition_id.strip())
    guid = m["guid"] if m else role_definition_id.strip()
    if not is_guid(guid):
        raise AuthorizationError(400, "InvalidRoleDefinitionId",
                                 f"The role definition ID '{role_definition_id}' is not valid.")
    if guid.lower() not in ROLE_DEFINITIONS:
        raise AuthorizationError(404, "RoleDefinitionDoesNotExist",
                                 f"The specified role definition with ID '{guid}' does not exist.")
    return guid.lower()


def normalize_scope(scope: str) -> str:
    return "/" + scope.strip("/")


def _under(scope: str, resource_id: str) -> bool:
    """True when ``resource_id`` is ``scope`` or below it (segment boundary, case-insensitive)."""
    s, r = normalize_scope(scope).lower(), normalize_scope(resource_id).lower()
    return r == s or r.startswith(s + "/")


@dataclass
class RoleAssignment:
    name: str
    scope: str
    role_guid: str
    principal_id: str
    principal_type: str
    subscription_id: str
    created: datetime
    created_by: str | None = None
    description: str | None = None

    @property
    def id(self) -> str:
        return f"{self.scope}/providers/Microsoft.Authorization/roleAssignments/{self.name}"

    @property
    def role_definition_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"
                f"{self.role_guid}")

    @property
    def role_name(self) -> str:
        return ROLE_DEFINITIONS[self.role_guid]

    def body(self) -> dict[str, Any]:
        return {
            "properties": {
                "roleDefinitionId": self.role_definition_id, "principalId": self.principal_id,
                "principalType": self.principal_type, "scope": self.scope, "condition": None,
                "conditionVersion": None, "createdOn": iso(self.created), "updatedOn": iso(self.created),
                "createdBy": self.created_by, "updatedBy": self.created_by,
                "delegatedManagedIdentityResourceId": None, "description": self.description,
            },
            "id": self.id, "type": "Microsoft.Authorization/roleAssignments", "name": self.name,
        }


@dataclass
class RoleAssignments:
    """Every role assignment of the subscription, keyed by assignment name (a GUID, unique per tenant)."""

    subscription_id: str
    now: Callable[[], datetime]
    scope_exists: Callable[[str], bool] = lambda scope: True
    _items: dict[str, RoleAssignment] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def prune(self) -> None:
        """Drop assignments whose scope no longer exists (its resource or group was deleted)."""
        with self._lock:
            for key in [k for k, a in self._items.items() if not self.scope_exists(a.scope)]:
                del self._items[key]

    def put(self, scope: str, name: str, properties: dict[str, Any], created_by: str | None = None
            ) -> tuple[RoleAssignment, bool]:
        """Create (True) or return the identical existing assignment (False). Raises AuthorizationError."""
        if not is_guid(name):
            raise AuthorizationError(400, "InvalidRoleAssignmentId",
                                     f"The role assignment ID '{name}' is not valid. The role assignment ID "
                                     "must be a GUID.")
        if not isinstance(properties, dict):
            raise AuthorizationError(400, "InvalidRequestContent",
                                     "The request content was invalid: 'properties' must be an object.")
        principal = properties.get("principalId")
        if not isinstance(principal, str) or not principal:
            raise AuthorizationError(400, "InvalidPrincipalId", "A valid principal ID must be provided for role "
                                     "assignment.")
        role_def = properties.get("roleDefinitionId")
        if not isinstance(role_def, str) or not role_def:
            raise AuthorizationError(400, "InvalidRoleDefinitionId",
                                     f"The role definition ID '{role_def}' is not valid.")
        guid = role_guid(role_def)
        ptype = properties.get("principalType") or "ServicePrincipal"
        if ptype not in PRINCIPAL_TYPES:
            raise AuthorizationError(400, "InvalidPrincipalType",
                                     f"The principal type '{ptype}' is not valid. Valid values are "
                                     f"{', '.join(PRINCIPAL_TYPES)}.")
        scope = normalize_scope(scope)
        with self._lock:
            self.prune()
            existing = self._items.get(name.lower())
            if existing is not None:
                same = (existing.scope.lower() == scope.lower() and existing.role_guid == guid
                        and existing.principal_id.lower() == principal.lower())
                if not same:
                    raise AuthorizationError(409, "RoleAssignmentUpdateNotPermitted",
                                             "Tenant ID, application ID, principal ID, and scope are not allowed "
                                             "to be updated.")
                return existing, False
            for other in self._items.values():
                if (other.scope.lower() == scope.lower() and other.role_guid == guid
                        and other.principal_id.lower() == principal.lower()):
                    # Azure's words, with the existing assignment's name as 32 hex digits (the Practical Guide's
                    # cd-reconnect-rbac-conflict capture)
                    raise AuthorizationError(409, "RoleAssignmentExists",
                                             "The role assignment already exists. The ID of the existing role "
                                             f"assignment is {other.name.replace('-', '')}.")
            item = RoleAssignment(name.lower(), scope, guid, principal, ptype, self.subscription_id, self.now(),
                                  created_by, properties.get("description"))
            self._items[item.name] = item
            return item, True

    def get(self, scope: str, name: str) -> RoleAssignment | None:
        with self._lock:
            self.prune()
            item = self._items.get(name.lower())
            if item is None or item.scope.lower() != normalize_scope(scope).lower():
                return None
            return item

    def delete(self, scope: str, name: str) -> RoleAssignment | None:
        with self._lock:
            item = self.get(scope, name)
            if item is not None:
                del self._items[item.name]
            return item

    def remove_under(self, scope: str) -> int:
        """Drop every assignment at or below ``scope`` (the resource was deleted)."""
        with self._lock:
            gone = [k for k, a in self._items.items() if _under(scope, a.scope)]
            for key in gone:
                del self._items[key]
            return len(gone)

    def list(self, scope: str, *, at_scope_only: bool = False, principal_id: str | None = None
             ) -> list[RoleAssignment]:
        """Assignments that apply at ``scope`` (at or above it), plus those below it unless ``at_scope_only``."""
        with self._lock:
            self.prune()
            out = []
            for item in self._items.values():
                applies = _under(item.scope, scope)
                below = _under(scope, item.scope)
                if not (applies or (below and not at_scope_only)):
                    continue
                if principal_id and item.principal_id.lower() != principal_id.lower():
                    continue
                out.append(item)
            return sorted(out, key=lambda a: (a.scope.lower(), a.name))

    def roles_for(self, principal_id: str, resource_id: str) -> set[str]:
        """Role names the principal holds on ``resource_id`` (assigned there or at a scope above it)."""
        return {a.role_name for a in self.list(resource_id, at_scope_only=True, principal_id=principal_id)}


