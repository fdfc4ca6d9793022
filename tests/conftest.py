"""Shared fixtures for the project's own tests: one emulator per test session (per xdist worker)."""

from __future__ import annotations

import ipaddress
import socket
import uuid
from collections.abc import Iterator

import pytest

from pytest_acalab.emulator import Emulator


def _loopback(host: object) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def loopback_only() -> Iterator[None]:
    """The suite talks to loopback only: resolving or connecting to any other address fails the test.

    (This machine's resolver is not on loopback, so even a DNS lookup of an Azure host name would leave it.)
    """
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host.decode() if isinstance(host, bytes) else host):
            raise OSError(f"test network guard: refusing to resolve {host!r} (loopback only)")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise OSError(f"test network guard: refusing to connect to {address!r} (loopback only)")
        return real_connect(self, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        mp.setattr(socket.socket, "connect", connect)
        yield


@pytest.fixture(scope="session")
def emu() -> Iterator[Emulator]:
    with Emulator(profile="fast", page_size=5) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def resource_client(emu: Emulator):
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                    **emu.client_kwargs())


@pytest.fixture(scope="session")
def deployment_client(emu: Emulator):
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return DeploymentsMgmtClient(emu.credential(), emu.subscription_id, polling_interval=0, **emu.client_kwargs())


@pytest.fixture
def group(resource_client) -> Iterator[str]:
    name = f"rg-test-{uuid.uuid4().hex[:8]}"
    resource_client.resource_groups.create_or_update(name, {"location": "koreacentral"})
    yield name
    if resource_client.resource_groups.check_existence(name):
        resource_client.resource_groups.begin_delete(name).result()
