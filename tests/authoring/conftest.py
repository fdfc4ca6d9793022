"""Scaffolded labs run in-process through pytester: import the SDKs once, up front (see tests/plugin/conftest.py)."""

import azure.containerregistry
import azure.identity
import azure.mgmt.appcontainers
import azure.mgmt.containerregistry
import azure.mgmt.containerregistrytasks
import azure.mgmt.resource.deployments
import azure.mgmt.resource.resources
import azure.monitor.query  # noqa: F401
import duckdb  # noqa: F401
import msal  # noqa: F401
import requests  # noqa: F401

import pytest_acalab.probes as _probes

_probes.load_probes()
