"""Scaffolded labs run in-process through pytester: import the SDKs once, up front (see tests/plugin/conftest.py)."""

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

import pytest_acalab.probes as _probes

_probes.load_probes()
