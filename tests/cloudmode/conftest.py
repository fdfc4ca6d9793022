"""The cloud-faithful emulator, and the Azure backend run against it unmodified.

In-process tests here set the environment ``acalab emulator env`` prints (``HTTPS_PROXY`` to the
emulator's CONNECT proxy, its CA, the service principal, Azure's default authority) and nothing
else: every request the Azure SDKs send names Azure's real hosts and reaches the emulator through
its loopback proxy, never a DNS lookup (the suite's network guard would refuse one).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import azure.identity
import azure.mgmt.appcontainers
import azure.mgmt.containerregistry
import azure.mgmt.containerregistrytasks
import azure.mgmt.resource.deployments
import azure.mgmt.resource.resources
import azure.monitor.query  # noqa: F401
import duckdb  # noqa: F401
import duckdb_kql  # noqa: F401
import msal  # noqa: F401
import pytest
import requests  # noqa: F401

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.connect import azure_cli_environment

sys.path.insert(0, str(Path(__file__).parent))
CLEARED = ("ACALAB_BACKEND", "ACALAB_LOCATION", "ACALAB_REPORT_DIR", "ACALAB_PROFILE", "ACALAB_SPEED",
           "ACALAB_MIN_WAIT", "ACALAB_MAX_WAIT", "ACALAB_POLL_INTERVAL", "ACALAB_EMULATOR_URL",
           "ACALAB_EMULATOR_CA_BUNDLE", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
           "AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE",
           "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS",
           "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
           "all_proxy", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="module")
def cloud_emu() -> Iterator[Emulator]:
    """A cloud-faithful emulator (what ``acalab emulator serve`` runs)."""
    with Emulator(profile="fast", cloud=True) as emulator:
        yield emulator


@pytest.fixture
def azure_shell(cloud_emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    """This process's environment as after ``eval "$(acalab emulator env --from F)"`` (no ``az`` on PATH)."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in azure_cli_environment(cloud_emu, tmp_path / "azure-config").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ACALAB_BICEP", "off")
    monkeypatch.setenv("PATH", str(tmp_path / "no-az"))  # DefaultAzureCredential: the environment only
    yield cloud_emu
    cloud_emu.platform.faults.configure(0.0)
