"""Azure's public host names: the URLs the emulator hands out, and which listener answers each name.

In *cloud-faithful* mode every URL in an answer names Azure's real host (LRO polling on
``management.azure.com``, the token endpoint on ``login.microsoftonline.com``, SAS links on
``<account>.blob.core.windows.net``, event streams on ``<region>.azurecontainerapps.dev``, app FQDNs
under ``<env>.<region>.azurecontainerapps.io``); the loopback CONNECT proxy routes those names back
here, and the TLS listeners present a certificate from the emulator's CA for each of them. In
*loopback* mode (the in-process default) the same answers name ``https://127.0.0.1:<port>``.

``HostTable`` is the one table the proxy (which names resolve, to which port) and TLS (which names a
leaf certificate may be minted for) share. Other packages add routes by host suffix: the Container
Apps runtime, for example, can send app host names to its own listener with
``emulator.hosts.add_suffix(".azurecontainerapps.io", resolver, any_depth=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Resolver = Callable[[str], int | None]
"""Maps a host name to the loopback port of the listener serving it, or None (refused, like NXDOMAIN)."""

MANAGEMENT_HOST = "management.azure.com"
LOGIN_HOST = "login.microsoftonline.com"
LOGS_HOST = "api.loganalytics.io"
REGISTRY_SUFFIX = ".azurecr.io"
BLOB_SUFFIX = ".blob.core.windows.net"
EVENT_STREAM_SUFFIX = ".azurecontainerapps.dev"
APP_SUFFIX = ".azurecontainerapps.io"
KEY_VAULT_SUFFIX = ".vault.azure.net"
DATA_COLLECTOR_SUFFIX = ".ods.opinsights.azure.com"
APPINSIGHTS_INGESTION_SUFFIX = ".in.applicationinsights.azure.com"

LOGIN_ALIASES = ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net")
"""Azure public cloud's authority aliases, as its instance discovery lists them."""


def one_label_under(host: str, suffix: str) -> bool:
    """``host`` is exactly one DNS label followed by ``suffix`` (what a ``*.suffix`` wildcard covers)."""
    return host.endswith(suffix) and len(host) > len(suffix) and "." not in host[: -len(suffix)]


@dataclass(frozen=True)
class HostRoute:
    suffix: str
    """An exact host name, or a suffix starting with a dot."""
    resolve: Resolver
    any_depth: bool = False
    """False: one label before the suffix (``<acr>.azurecr.io``); True: any number of labels (app FQDNs)."""

    def matches(self, host: str) -> bool:
        if not self.suffix.startswith("."):
            return host == self.suffix
        if self.any_depth:
            return host.endswith(self.suffix) and len(host) > len(self.suffix)
        return one_label_under(host, self.suffix)


class HostTable:
    """Which loopback listener answers each Azure host name; later routes win over earlier ones."""

    def __init__(self) -> None:
        self._routes: list[HostRoute] = []

    def add_exact(self, host: str, resolve: Resolver) -> None:
        self._routes.insert(0, HostRoute(host.lower(), resolve))

    def add_suffix(self, suffix: str, resolve: Resolver, *, any_depth: bool = False) -> None:
        """Route every host under ``suffix`` (``.azurecr.io``) to ``resolve``; replaces an earlier route
        for the same suffix, so a provider can take over a default."""
        suffix = "." + suffix.lower().lstrip(".")
        self._routes = [r for r in self._routes if r.suffix != suffix]
        self._routes.insert(0, HostRoute(suffix, resolve, any_depth))

    def route_for(self, host: str) -> HostRoute | None:
        host = host.lower().rstrip(".")
        return next((r for r in self._routes if r.matches(host)), None)

    def resolve(self, host: str) -> int | None:
        """The port serving ``host``, or None for names the emulator does not serve (or that do not exist)."""
        route = self.route_for(host)
        return route.resolve(host.lower().rstrip(".")) if route else None

    def may_serve(self, host: str) -> bool:
        """Whether ``host`` has the shape of a name the emulator answers for (a certificate may be minted)."""
        return self.route_for(host) is not None


@dataclass
class PublicUrls:
    """Base URLs written into the emulator's answers: Azure's hosts (cloud mode) or its loopback URL."""

    loopback: str = ""
    """``https://127.0.0.1:<port>`` of the main listener."""
    cloud: bool = False

    @property
    def management(self) -> str:
        return f"https://{MANAGEMENT_HOST}" if self.cloud else self.loopback

    @property
    def login(self) -> str:
        return f"https://{LOGIN_HOST}" if self.cloud else self.loopback

    @property
    def logs(self) -> str:
        return f"https://{LOGS_HOST}" if self.cloud else self.loopback

    def blob(self, account: str) -> str:
        """Base of a storage account's blob endpoint (path-style ``<loopback>/<account>`` in loopback mode)."""
        return f"https://{account}{BLOB_SUFFIX}" if self.cloud else f"{self.loopback}/{account}"

    def event_stream(self, location_key: str) -> str:
        """Base of Container Apps' event-stream and log-stream URLs in a region (``koreacentral``)."""
        return f"https://{location_key}{EVENT_STREAM_SUFFIX}" if self.cloud else self.loopback


def path_style(authority: str, path: str) -> str:
    """Requests sent to a virtual-hosted name map onto the emulator's path-style routes:
    ``<account>.blob.core.windows.net/<c>/<b>`` -> ``/<account>/<c>/<b>``;
    ``<workspace id>.ods.opinsights.azure.com/api/logs`` -> ``/ods/<workspace id>/api/logs``."""
    host = authority.lower()
    if one_label_under(host, BLOB_SUFFIX):
        return f"/{host[: -len(BLOB_SUFFIX)]}{path}"
    if one_label_under(host, APPINSIGHTS_INGESTION_SUFFIX):
        return f"/appinsights-ingest{path}"
    if one_label_under(host, KEY_VAULT_SUFFIX):
        return f"/keyvault/{host[: -len(KEY_VAULT_SUFFIX)]}{path}"
    if one_label_under(host, DATA_COLLECTOR_SUFFIX):
        return f"/ods/{host[: -len(DATA_COLLECTOR_SUFFIX)]}{path}"
    return path
