"""Import once what in-process inner pytest runs (pytester) would otherwise import afresh.

pytester removes the modules an inner run imported once that run ends, so the Azure SDKs (and msal's
caches) would be imported again, half-mixed with objects of the previous run. Importing them here, before
any inner run, makes every run share one copy, as a real process does. The emulator imports DuckDB lazily:
a native extension imported twice aborts the interpreter, so it is imported here too.
"""

import azure.containerregistry
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
import requests  # noqa: F401
