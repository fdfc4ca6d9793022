"""Shared fixtures for the project's own tests: one emulator per test session (per xdist worker)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pytest_acalab.emulator import Emulator


@pytest.fixture(scope="session")
def emu() -> Iterator[Emulator]:
    with Emulator(profile="fast", page_size=5) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def resource_client(emu: Emulator):  # noqa: ANN201
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                    **emu.client_kwargs())


@pytest.fixture(scope="session")
def deployment_client(emu: Emulator):  # noqa: ANN201
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return DeploymentsMgmtClient(emu.credential(), emu.subscription_id, polling_interval=0, **emu.client_kwargs())


@pytest.fixture
def group(resource_client) -> Iterator[str]:  # noqa: ANN001
    name = f"rg-test-{uuid.uuid4().hex[:8]}"
    resource_client.resource_groups.create_or_update(name, {"location": "koreacentral"})
    yield name
    if resource_client.resource_groups.check_existence(name):
        resource_client.resource_groups.begin_delete(name).result()
