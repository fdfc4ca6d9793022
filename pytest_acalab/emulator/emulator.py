"""The emulator object: start it, point real Azure SDK clients at it, stop it.

    with Emulator() as emu:
        client = ContainerAppsAPIClient(emu.credential(), emu.subscription_id, **emu.client_kwargs())

``Emulator(cloud=True)`` is the cloud-faithful mode: every URL in its answers names Azure's real hosts,
which clients reach through ``emu.proxy_url`` (``HTTPS_PROXY``); ``acalab emulator serve`` runs this mode.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_acalab.emulator.platform.clock import Clock
from pytest_acalab.emulator.platform.core import MANAGEMENT, Platform
from pytest_acalab.emulator.platform.hosts import (
    APP_SUFFIX,
    APPINSIGHTS_INGESTION_SUFFIX,
    BLOB_SUFFIX,
    DATA_COLLECTOR_SUFFIX,
    EVENT_STREAM_SUFFIX,
    KEY_VAULT_SUFFIX,
    LOGIN_ALIASES,
    LOGS_HOST,
    MANAGEMENT_HOST,
    REGISTRY_SUFFIX,
    HostTable,
)
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.proxy import ConnectProxy
from pytest_acalab.emulator.platform.server import HttpsServer
from pytest_acalab.emulator.platform.statedir import make_state_dir, sweep_leftovers
from pytest_acalab.emulator.platform.tls import Certificates, host_context, mint
from pytest_acalab.emulator.providers import register_all
from pytest_acalab.emulator.runtime import python_envs

ARM_SCOPE = "https://management.azure.com/.default"


class Emulator:
    """A local Azure: ARM, the token authority, ACR, Log Analytics and Container Apps over HTTPS."""

    def __init__(self, *, profile: str = "fast", speed: float = 1.0, port: int = 0,
                 subscription_id: str | None = None, tenant_id: str | None = None,
                 page_size: int = 100, state_dir: Path | None = None, cloud: bool = False) -> None:
        self.clock = Clock(profile, speed)
        self.cloud = cloud
        """Cloud-faithful mode: answers name Azure's hosts, reached through ``proxy_url``."""
        self.subscription_id = subscription_id or str(uuid.uuid4())
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.platform = Platform(self.clock, self.subscription_id, self.tenant_id, page_size=page_size)
        self._port = port
        self._own_dir = state_dir is None
        if state_dir is None:
            sweep_leftovers()  # the state directories of emulators that were killed outright
        self._dir = Path(state_dir) if state_dir is not None else make_state_dir()
        self._server: HttpsServer | None = None
        self._certs: Certificates | None = None
        self._proxy: ConnectProxy | None = None
        self.ca_bundle = ""
        """The CA bundle (PEM) that clients trust for this emulator (set by ``start``)."""
        self.platform.state_dir = self._dir
        self.principal = self.platform.identity.add_principal("acalab-emulator-sp")
        self.platform.remember_secret(self.principal.secret)
        self.hosts = HostTable()
        """Which listener answers each Azure host name (the CONNECT proxy and TLS read it); add routes with
        ``hosts.add_suffix(suffix, resolver, any_depth=...)``."""
        self._default_host_routes()
        register_all(self.platform)

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._server is not None:
            return self
        certs = self._certs = mint(self._dir)
        certs.may_mint = self.hosts.may_serve
        self.ca_bundle = str(certs.ca_bundle)
        python_envs.EMULATOR_CLIENT_SETTINGS.add(self.ca_bundle)
        self._server = HttpsServer(certs.context, self.platform.dispatch)
        port = self._server.listen(MANAGEMENT, self._port)
        self.url = f"https://127.0.0.1:{port}"
        urls = self.platform.urls
        urls.loopback, urls.cloud = self.url, self.cloud
        self.platform.base_url = urls.management
        self.platform.identity.base_url = urls.login
        self.platform.registry_url = (lambda login_server: f"https://{login_server.lower()}") if self.cloud \
            else self.registry_endpoint
        self.platform.route("GET", "/acalab/proxy", self._proxy_endpoint)
        self.platform.ca_bundle = self.ca_bundle
        self.platform.egress = self._egress
        return self

    def stop(self) -> None:
        self.platform.stop()  # workloads first: no replica process outlives its emulator
        python_envs.EMULATOR_CLIENT_SETTINGS.discard(self.ca_bundle)
        if self._proxy is not None:
            python_envs.EMULATOR_CLIENT_SETTINGS.discard(self._proxy.url)
        # each listener notices a stop within its poll interval: close them side by side, not one after the other
        closing = [threading.Thread(target=part.close, name="acalab-emulator-stop", daemon=True)
                   for part in (self._proxy, self._server) if part is not None]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()
        self._proxy = self._server = None
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what clients need ---------------------------------------------------------------------------
    @property
    def logs_endpoint(self) -> str:
        """What ``LogsQueryClient(endpoint=...)`` takes (in cloud mode Azure's, reached through the proxy)."""
        return self.platform.urls.logs

    def registry_endpoint(self, login_server: str) -> str:
        """The HTTPS endpoint serving ``<name>.azurecr.io`` (a loopback port of its own)."""
        assert self._server is not None, "start the emulator first"
        port = self._server.listen(login_server.lower())
        return f"https://127.0.0.1:{port}"

    @property
    def proxy_url(self) -> str:
        """``http://127.0.0.1:<port>``: a CONNECT proxy for ``HTTPS_PROXY`` that routes Azure host names
        (``<acr>.azurecr.io``, ``*.blob.core.windows.net``, ...) to this emulator (started on first use)."""
        assert self._server is not None, "start the emulator first"
        with self.platform.lock:
            if self._proxy is None:
                self._proxy = ConnectProxy(self._listener_for)
                python_envs.EMULATOR_CLIENT_SETTINGS.add(self._proxy.url)
            return self._proxy.url

    def _egress(self) -> tuple[str, int] | None:
        if self._server is None:
            return None
        url = urlsplit(self.proxy_url)
        return (url.hostname or "127.0.0.1", url.port or 0)

    def _proxy_endpoint(self, req: Request) -> Response:
        """Where this emulator's CONNECT proxy listens (for clients attached to a standalone emulator)."""
        return Response.json(200, {"proxy": self.proxy_url})

    def _listener_for(self, host: str) -> int | None:
        """The loopback port serving ``host`` as Azure would, or None for hosts the emulator does not serve."""
        return self.hosts.resolve(host)

    def _default_host_routes(self) -> None:
        def main(host: str) -> int | None:
            return self._server.port_of(MANAGEMENT) if self._server is not None else None

        def registry(host: str) -> int | None:
            # like DNS: only registries that exist resolve (and each opens one listener, once)
            if self._server is None:
                return None
            registries = self.platform.store.of_type("Microsoft.ContainerRegistry/registries")
            if not any(str((r.body.get("properties") or {}).get("loginServer", "")).lower() == host
                       for r in registries):
                return None
            return self._server.listen(host)

        def app(host: str) -> int | None:
            # like DNS: only the names an app's ingress serves from outside (its fqdn, revision and label
            # fqdns) resolve, at any depth, each to a listener of its own; internal ingress does not
            return self._provider_host(host)

        for name in (MANAGEMENT_HOST, LOGS_HOST, *LOGIN_ALIASES):
            self.hosts.add_exact(name, main)
        def vault(host: str) -> int | None:
            # like DNS: only vaults that exist have a name
            service = self.platform.services.extra.get("keyvault")
            return main(host) if service is not None and service.serves(host) else None

        for suffix in (BLOB_SUFFIX, EVENT_STREAM_SUFFIX, DATA_COLLECTOR_SUFFIX, APPINSIGHTS_INGESTION_SUFFIX):
            self.hosts.add_suffix(suffix, main)
        self.hosts.add_suffix(KEY_VAULT_SUFFIX, vault)
        self.hosts.add_suffix(REGISTRY_SUFFIX, registry)
        self.hosts.add_suffix(APP_SUFFIX, app, any_depth=True)

    def _provider_host(self, host: str) -> int | None:
        """The listener of a host a provider serves itself (an app's ingress fqdn), opened on first use
        with a certificate for exactly that name; None when no provider serves ``host`` (right now)."""
        server, certs = self._server, self._certs
        if server is None or certs is None or certs.ca is None:
            return None
        for resolve in self.platform.host_resolvers:
            dispatch = resolve(host)
            if dispatch is None:
                continue
            port = server.port_of(host)
            if port is not None:
                return port
            return server.listen(host, context=host_context(certs.ca, host), dispatch=dispatch)
        return None

    def serves(self, host: str) -> bool:
        """Whether ``host`` resolves to this emulator (through its proxy), as an Azure host name would."""
        return self._listener_for(host) is not None

    def ingress_url(self, fqdn: str) -> str:
        """``https://127.0.0.1:<port>``: the app ingress ``fqdn`` for clients without the proxy (the
        certificate names both, so ``verify=emu.ca_bundle`` holds). ``LookupError`` when the emulator
        serves no such host: ingress disabled, internal ingress (reachable only inside its
        environment), an inactive revision, an unknown label or app."""
        assert self._server is not None, "start the emulator first"
        port = self._provider_host(fqdn.lower().rstrip("."))
        if port is None:
            raise LookupError(f"{fqdn} does not resolve: the emulator serves no ingress under that name")
        return f"https://127.0.0.1:{port}"

    @property
    def client_id(self) -> str:
        return self.principal.client_id

    @property
    def client_secret(self) -> str:
        return self.principal.secret

    def credential(self) -> Any:
        """A real ``ClientSecretCredential``: its authority is this emulator's loopback URL, or in cloud mode
        Azure's default authority (``login.microsoftonline.com``, with instance discovery) reached through the
        proxy."""
        from azure.identity import ClientSecretCredential

        if self.cloud:
            return ClientSecretCredential(self.tenant_id, self.principal.client_id, self.principal.secret,
                                          connection_verify=self.ca_bundle, proxies=self.proxies())
        return ClientSecretCredential(
            self.tenant_id, self.principal.client_id, self.principal.secret,
            authority=self.url, disable_instance_discovery=True, connection_verify=self.ca_bundle,
        )

    def proxies(self) -> dict[str, str]:
        """What azure-core's ``proxies=`` and requests' ``proxies=`` take to reach Azure host names here."""
        return {"https": self.proxy_url}

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any ``azure-mgmt-*`` client to talk to this emulator (in cloud mode: to
        ``https://management.azure.com`` through the proxy)."""
        if self.cloud:
            return {"credential_scopes": [ARM_SCOPE], "connection_verify": self.ca_bundle,
                    "proxies": self.proxies()}
        return {"base_url": self.url, "credential_scopes": [ARM_SCOPE], "connection_verify": self.ca_bundle}

    @property
    def state_dir(self) -> Path:
        return self._dir

    def describe(self) -> dict[str, str]:
        return {
            "arm_endpoint": self.url, "ca_bundle": self.ca_bundle, "subscription_id": self.subscription_id,
            "tenant_id": self.tenant_id, "client_id": self.client_id, "logs_endpoint": self.logs_endpoint,
        }
