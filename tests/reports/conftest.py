"""Report tests run labs in-process through pytester, as tests/plugin does: import the SDKs once, up front (see
tests/plugin/conftest.py for why), and share its small lab writer."""

import sys
from pathlib import Path

import azure.containerregistry  # noqa: F401
import azure.identity  # noqa: F401
import azure.mgmt.appcontainers  # noqa: F401
import azure.mgmt.containerregistry  # noqa: F401
import azure.mgmt.containerregistrytasks  # noqa: F401
import azure.mgmt.resource.deployments  # noqa: F401
import azure.mgmt.resource.resources  # noqa: F401
import azure.monitor.query  # noqa: F401
import duckdb  # noqa: F401
import msal  # noqa: F401
import requests  # noqa: F401

import pytest_acalab.probes  # noqa: F401  (the probe registry lives outside the inner runs)

sys.path.insert(0, str(Path(__file__).parents[1] / "plugin"))

import pytest_acalab.probes as _probes  # noqa: E402

_probes.load_probes()
