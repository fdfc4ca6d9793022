"""What a resource provider implements for each resource type, and the id grammar ARM uses.

A provider subclasses ``ResourceType`` once per type (``Microsoft.App/containerApps``,
``Microsoft.App/containerApps/revisions``, ...) and registers it with the platform; the platform
does the ARM parts every type shares: id parsing, case-insensitive matching, the resource group
check, api-version, list paging and the error for a type nobody implements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.platform.errors import ArmError, resource_not_found
from pytest_acalab.emulator.platform.http import Request, Response

if TYPE_CHECKING:
    from pytest_acalab.emulator.platform.core import Platform


@dataclass(frozen=True)
class ResourceId:
    """``/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}]...``"""

    subscription: str
    resource_group: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def type_path(self) -> str:
        """``Microsoft.App/containerApps/revisions`` (as the request spelled it)."""
        return "/".join((self.namespace, *self.types))

    @property
    def id(self) -> str:
        parts = [f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{self.namespace}"]
        for t, n in zip(self.types, self.names, strict=True):
            parts.append(f"{t}/{n}")
        return "/".join(parts)

    def parent(self) -> ResourceId:
        return ResourceId(self.subscription, self.resource_group, self.namespace, self.types[:-1], self.names[:-1])

    def child(self, type_name: str, name: str) -> ResourceId:
        return ResourceId(self.subscription, self.resource_group, self.namespace,
                          (*self.types, type_name), (*self.names, name))

    @classmethod
    def parse(cls, text: str) -> ResourceId:
        parts = [p for p in text.split("/") if p]
        if (len(parts) < 8 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups"
                or parts[4].lower() != "providers" or len(parts[6:]) % 2):
            raise ArmError(400, "InvalidResourceId", f"The resource id '{text}' is not valid.")
        rest = parts[6:]
        return cls(parts[1], parts[3], parts[5], tuple(rest[0::2]), tuple(rest[1::2]))


@dataclass
class Ctx:
    """What a handler gets besides the id: the platform, the request and the checked api-version."""

    platform: Platform
    request: Request
    api_version: str

    @property
    def store(self):
        return self.platform.store

    @property
    def clock(self):
        return self.platform.clock


Action = Callable[[Ctx, ResourceId, Any], Response]


class ResourceType:
    """Base for one resource type. Override what the type supports; the rest answers ARM's errors."""

    namespace: str = ""
    type_name: str = ""
    """Type below the namespace, e.g. ``containerApps`` or ``containerApps/revisions``."""
    api_versions: tuple[str, ...] = ()
    """Versions accepted; empty accepts any (the SDKs and the CLI send many, previews included)."""
    actions: dict[str, str] = {}
    """POST action name (any case) → method name on this class."""

    @property
    def full_type(self) -> str:
        return f"{self.namespace}/{self.type_name}"

    def not_found(self, rid: ResourceId) -> ArmError:
        return resource_not_found(self.full_type, rid.name, rid.resource_group)

    def lookup(self, ctx: Ctx, rid: ResourceId) -> Any:
        res = ctx.store.get(rid.id)
        if res is None or res.type.lower() != self.full_type.lower():
            raise self.not_found(rid)
        return res

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        return Response.json(200, self.lookup(ctx, rid).body)

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        raise self.method_not_allowed("PUT")

    def patch(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        raise self.method_not_allowed("PATCH")

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        raise self.method_not_allowed("DELETE")

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        """Bodies of this type under ``parent`` (child types) or in a group / the subscription."""
        items = ctx.store.of_type(self.full_type, resource_group)
        if parent is not None:
            prefix = parent.id.lower() + "/"
            items = [r for r in items if r.id.lower().startswith(prefix)]
        return [r.body for r in sorted(items, key=lambda r: r.id.lower())]

    def remove(self, ctx: Ctx, rid: ResourceId) -> None:
        """Delete at once, no answer: used when the resource group goes (cascade)."""
        ctx.store.remove(rid.id)

    def method_not_allowed(self, method: str) -> ArmError:
        return ArmError(405, "MethodNotAllowed",
                        f"The requested resource does not support http method '{method}'.")
