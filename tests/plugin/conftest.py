"""pytester runs labs in-process. It removes the modules an inner run imported once that run ends, so the
Azure SDKs (and msal's caches) would be imported afresh, half-mixed with objects of the previous run.
Importing them here, before any inner run, makes every run share one copy, as a real process does."""

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
import duckdb  # noqa: F401  (a second import of DuckDB in one process aborts it)
import msal  # noqa: F401
import requests  # noqa: F401

sys.path.insert(0, str(Path(__file__).parent))
