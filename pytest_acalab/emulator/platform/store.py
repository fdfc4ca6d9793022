"""Platform state: the subscription, its resource groups and an index of every resource.

Providers keep their own rich models in ``Resource.model``; the index lets the platform list
resources by group or type, filter them, and cascade a group delete to every provider.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytest_acalab.emulator.platform.clock import Clock


@dataclass
class ResourceGroup:
    name: str
    location: str
    tags: dict[str, str]
    subscription_id: str
    created: datetime
    provisioning_state: str = "Succeeded"
    managed_by: str | None = None

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.name}"

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.location,
            "properties": {"provisioningState": self.provisioning_state},
        }
        if self.tags:
            out["tags"] = dict(self.tags)
        if self.managed_by:
            out["managedBy"] = self.managed_by
        return out


@dataclass
class Resource:
    id: str
    name: str
    type: str
    """Canonical type, e.g. ``Microsoft.App/containerApps``."""
    resource_group: str
    location: str
    body: dict[str, Any]
    """The ARM representation answered on GET, kept current by the provider."""
    model: Any = None
    created: datetime | None = None

    @property
    def tags(self) -> dict[str, str]:
        return self.body.get("tags") or {}


@dataclass
class Store:
    subscription_id: str
    tenant_id: str
    subscription_name: str = "acalab-emulator"
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    resource_groups: dict[str, ResourceGroup] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)

    # resource groups -------------------------------------------------------------------------
    def group(self, name: str) -> ResourceGroup | None:
        return self.resource_groups.get(name.lower())

    def put_group(self, group: ResourceGroup) -> None:
        self.resource_groups[group.name.lower()] = group

    def drop_group(self, name: str) -> None:
        self.resource_groups.pop(name.lower(), None)

    # resources -------------------------------------------------------------------------------
    def get(self, resource_id: str) -> Resource | None:
        return self.resources.get(resource_id.lower())

    def add(self, resource: Resource) -> Resource:
        self.resources[resource.id.lower()] = resource
        return resource

    def remove(self, resource_id: str) -> Resource | None:
        return self.resources.pop(resource_id.lower(), None)

    def in_group(self, group: str) -> list[Resource]:
        g = group.lower()
        return [r for r in self.resources.values() if r.resource_group.lower() == g]

    def of_type(self, type_name: str, group: str | None = None) -> list[Resource]:
        t = type_name.lower()
        return [
            r for r in self.resources.values()
            if r.type.lower() == t and (group is None or r.resource_group.lower() == group.lower())
        ]

    def find(self, type_name: str, name: str, group: str | None = None) -> Resource | None:
        n = name.lower()
        for r in self.of_type(type_name, group):
            if r.name.lower() == n:
                return r
        return None


def new_store(subscription_id: str, tenant_id: str) -> Store:
    return Store(subscription_id=subscription_id, tenant_id=tenant_id)


__all__ = ["Clock", "Resource", "ResourceGroup", "Store", "new_store"]
