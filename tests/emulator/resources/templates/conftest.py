"""A small in-memory ResourceHost: the engine's host boundary is the one legitimate stand-in here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pytest_acalab.emulator.resources.templates import DeploymentContext, ResourceLookupError, ResourceOutcome

SUB = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"


def split_id(resource_id: str) -> tuple[str, str]:
    """(type, name) of an ARM resource id."""
    tail = resource_id.rsplit("/providers/", 1)[1].split("/")
    return "/".join([tail[0], *tail[1::2]]), "/".join(tail[2::2])


class FakeHost:
    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.failures: dict[str, ResourceOutcome] = {}
        self.actions: dict[tuple[str, str], Any] = {}

    def add(self, resource_id: str, properties: dict[str, Any] | None = None, **extra: Any) -> None:
        rtype, name = split_id(resource_id)
        self.resources[resource_id.lower()] = {
            "id": resource_id, "name": name, "type": rtype, "properties": properties or {}, **extra
        }

    def fail(self, resource_id: str, outcome: ResourceOutcome) -> None:
        self.failures[resource_id.lower()] = outcome

    @property
    def written(self) -> list[str]:
        return [rid for verb, rid, _ in self.calls if verb == "PUT"]

    def put_resource(self, resource_id: str, api_version: str, body: dict[str, Any]) -> ResourceOutcome:
        self.calls.append(("PUT", resource_id, body))
        if resource_id.lower() in self.failures:
            return self.failures[resource_id.lower()]
        rtype, name = split_id(resource_id)
        stored = {
            "id": resource_id,
            "name": name,
            "type": rtype,
            **body,
            "properties": {**(body.get("properties") or {}), "provisioningState": "Succeeded"},
        }
        self.resources[resource_id.lower()] = stored
        return ResourceOutcome(True, 201, stored)

    def get_resource(self, resource_id: str, api_version: str | None) -> dict[str, Any]:
        self.calls.append(("GET", resource_id, api_version))
        found = self.resources.get(resource_id.lower())
        if found is None:
            rtype, name = split_id(resource_id)
            raise ResourceLookupError(
                "ResourceNotFound", f"The Resource '{rtype}/{name}' under resource group 'rg-lab' was not found."
            )
        return found

    def invoke_action(self, resource_id: str, action: str, api_version: str, body: dict[str, Any] | None) -> Any:
        self.calls.append(("POST", f"{resource_id}/{action}", body))
        if resource_id.lower() not in self.resources:
            raise ResourceLookupError("ResourceNotFound", f"The Resource '{resource_id}' was not found.")
        key = (resource_id.lower(), action.lower())
        if key not in self.actions:
            raise ResourceLookupError("InvalidResourceOperation", f"The action '{action}' is not supported.")
        return self.actions[key]


class Clock:
    """A fake emulator clock: each reading advances 250 ms."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 6, 22, 13, 20, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(milliseconds=250)
        return self.moment


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


@pytest.fixture
def ctx() -> DeploymentContext:
    return DeploymentContext(
        subscription_id=SUB,
        tenant_id=TENANT,
        resource_group_name="rg-lab",
        resource_group_location="koreacentral",
        resource_group_tags={"env": "lab"},
        deployment_name="main",
        now=Clock(),
    )
