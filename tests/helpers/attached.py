"""Fixtures for labs run as against real Azure, offline: inner runs attach to an emulator this test process owns.

The inner pytest runs (pytester, in-process) see the emulator exactly as they would a standalone
``acalab emulator serve``: through ``ACALAB_EMULATOR_URL`` and the ``AZURE_*`` variables. The test
keeps the Emulator object, so it can switch faults on and read the emulator's state after the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import helpers.inprocess  # noqa: F401 - before any inner run
from pytest_acalab.emulator import Emulator

CLEARED = ("ACALAB_BACKEND", "ACALAB_LOCATION", "ACALAB_REPORT_DIR", "ACALAB_PROFILE", "ACALAB_SPEED",
           "ACALAB_MIN_WAIT", "ACALAB_EMULATOR_URL", "ACALAB_EMULATOR_CA_BUNDLE", "ACALAB_BICEP",
           "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID",
           "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT",
           "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")


@pytest.fixture(scope="module")
def live_emu() -> Iterator[Emulator]:
    """A standalone emulator for this module's tests (what ``acalab emulator serve`` runs)."""
    with Emulator(profile="fast") as emulator:
        yield emulator


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No acalab or Azure settings leak in from the developer's shell or the outer run."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACALAB_BICEP", "off")  # a developer's own bicep must not change what runs (test_bicep)
    return monkeypatch


@pytest.fixture
def attached(live_emu: Emulator, clean_env: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """Inner runs attach to ``live_emu``; faults are switched off again afterwards."""
    env = {"ACALAB_EMULATOR_URL": live_emu.url, "ACALAB_EMULATOR_CA_BUNDLE": live_emu.ca_bundle,
           "AZURE_TENANT_ID": live_emu.tenant_id, "AZURE_CLIENT_ID": live_emu.client_id,
           "AZURE_CLIENT_SECRET": live_emu.client_secret, "AZURE_SUBSCRIPTION_ID": live_emu.subscription_id}
    for key, value in env.items():
        clean_env.setenv(key, value)
    yield live_emu
    live_emu.platform.faults.configure(0.0)


@pytest.fixture
def resource_client(live_emu: Emulator):
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(live_emu.credential(), live_emu.subscription_id, polling_interval=0,
                                    **live_emu.client_kwargs())


@pytest.fixture
def drop_groups(live_emu: Emulator, resource_client) -> Iterator[list[str]]:
    """Names appended here are deleted after the test (kept groups must not leak into other tests)."""
    names: list[str] = []
    yield names
    live_emu.platform.faults.configure(0.0)
    for name in names:
        if resource_client.resource_groups.check_existence(name):
            resource_client.resource_groups.begin_delete(name).result()
