"""Fixtures for the Log Analytics provider's HTTP tests: real SDK clients against the session emulator."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from pytest_acalab.emulator import Emulator


@pytest.fixture(scope="session")
def la_client(emu: Emulator):
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient

    return LogAnalyticsManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                        **emu.client_kwargs())


@pytest.fixture(scope="session")
def logs_client(emu: Emulator):
    from azure.monitor.query import LogsQueryClient

    return LogsQueryClient(emu.credential(), endpoint=emu.logs_endpoint, connection_verify=emu.ca_bundle)


@pytest.fixture
def workspace(la_client, group: str):
    """A fresh PerGB2018 workspace (provisioned) in a fresh group."""
    name = f"ws-{uuid.uuid4().hex[:8]}"
    return la_client.workspaces.begin_create_or_update(
        group, name, {"location": "koreacentral", "properties": {"sku": {"name": "PerGB2018"}}}).result()


@pytest.fixture(scope="session")
def arm_token(emu: Emulator) -> str:
    return emu.credential().get_token("https://management.azure.com/.default").token


@pytest.fixture(scope="session")
def logs_token(emu: Emulator) -> str:
    return emu.credential().get_token(f"{emu.logs_endpoint}/.default").token


@pytest.fixture(scope="session")
def http(emu: Emulator) -> Iterator[Callable[..., requests.Response]]:
    """Raw HTTPS against the emulator (for what the SDKs hide: status codes, headers)."""
    session = requests.Session()

    def call(method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # verify per request: a REQUESTS_CA_BUNDLE in the environment would override session.verify
        return session.request(method, f"{emu.url}{path}", headers=headers, timeout=10, verify=emu.ca_bundle,
                               **kwargs)

    yield call
    session.close()


def _eventually(check: Callable[[], Any], timeout: float = 2.0) -> Any:
    """``check()``'s value once it stops raising: rows show up after the (scaled) ingestion delay,
    so a reader polls until a deadline, as a lab's evidence check does."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


@pytest.fixture(scope="session")
def eventually() -> Callable[..., Any]:
    return _eventually
