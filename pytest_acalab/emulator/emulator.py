"""The emulator object: start it, point real Azure SDK clients at it, stop it.

    with Emulator() as emu:
        client = ContainerAppsAPIClient(emu.credential(), emu.subscription_id, **emu.client_kwargs())
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from pytest_acalab.emulator.platform.clock import Clock
from pytest_acalab.emulator.platform.core import MANAGEMENT, Platform
from pytest_acalab.emulator.platform.proxy import ConnectProxy
from pytest_acalab.emulator.platform.server import HttpsServer
from pytest_acalab.emulator.platform.tls import SERVER_NAMES, mint
from pytest_acalab.emulator.providers import register_all

ARM_SCOPE = "https://management.azure.com/.default"


class Emulator:
    """A local Azure: ARM, the token authority, ACR, Log Analytics and Container Apps over HTTPS."""

    def __init__(self, *, profile: str = "fast", speed: float = 1.0, port: int = 0,
                 subscription_id: str | None = None, tenant_id: str | None = None,
                 page_size: int = 100, state_dir: Path | None = None) -> None:
        self.clock = Clock(profile, speed)
        self.subscription_id = subscription_id or str(uuid.uuid4())
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.platform = Platform(self.clock, self.subscription_id, self.tenant_id, page_size=page_size)
        self._port = port
        self._own_dir = state_dir is None
        self._dir = Path(state_dir or tempfile.mkdtemp(prefix="acalab-emulator-"))
        self._server: HttpsServer | None = None
        self._proxy: ConnectProxy | None = None
        self.platform.state_dir = self._dir
        self.principal = self.platform.identity.add_principal("acalab-emulator-sp")
        self.platform.remember_secret(self.principal.secret)
        register_all(self.platform)

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._server is not None:
            return self
        certs = mint(self._dir)
        self.ca_bundle = str(certs.ca_bundle)
        self._server = HttpsServer(certs.context, self.platform.dispatch)
        port = self._server.listen(MANAGEMENT, self._port)
        self.url = f"https://127.0.0.1:{port}"
        self.platform.base_url = self.url
        self.platform.identity.base_url = self.url
        self.platform.registry_url = self.registry_endpoint
        return self

    def stop(self) -> None:
        self.platform.stop()  # workloads first: no replica process outlives its emulator
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what clients need ---------------------------------------------------------------------------
    @property
    def logs_endpoint(self) -> str:
        """What ``LogsQueryClient(endpoint=...)`` takes."""
        return self.url

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
            return self._proxy.url

    def _listener_for(self, host: str) -> int | None:
        """The loopback port serving ``host`` as Azure would, or None for hosts the emulator does not serve."""
        server = self._server
        if server is None:
            return None
        host = host.lower().rstrip(".")
        if host.endswith(".azurecr.io") and host.count(".") == 2:
            # like DNS: only registries that exist resolve (and each opens one listener, once)
            registries = self.platform.store.of_type("Microsoft.ContainerRegistry/registries")
            if not any(str((r.body.get("properties") or {}).get("loginServer", "")).lower() == host
                       for r in registries):
                return None
            return server.listen(host)
        for name in SERVER_NAMES:
            if name in ("127.0.0.1", "localhost"):
                continue
            if name.startswith("*."):
                if host.endswith(name[1:]) and "." not in host[: -len(name) + 1]:
                    return server.port_of(MANAGEMENT)
            elif host == name:
                return server.port_of(MANAGEMENT)
        return None

    @property
    def client_id(self) -> str:
        return self.principal.client_id

    @property
    def client_secret(self) -> str:
        return self.principal.secret

    def credential(self) -> Any:
        """A real ``ClientSecretCredential`` whose authority is this emulator."""
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(
            self.tenant_id, self.principal.client_id, self.principal.secret,
            authority=self.url, disable_instance_discovery=True, connection_verify=self.ca_bundle,
        )

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any ``azure-mgmt-*`` client to talk to this emulator."""
        return {"base_url": self.url, "credential_scopes": [ARM_SCOPE], "connection_verify": self.ca_bundle}

    @property
    def state_dir(self) -> Path:
        return self._dir

    def describe(self) -> dict[str, str]:
        return {
            "arm_endpoint": self.url, "ca_bundle": self.ca_bundle, "subscription_id": self.subscription_id,
            "tenant_id": self.tenant_id, "client_id": self.client_id, "logs_endpoint": self.logs_endpoint,
        }
