"""A certificate authority minted per emulator, the server certificate it signs, and leaf certificates
minted on demand for host names a wildcard cannot cover.

A wildcard covers exactly one DNS label (RFC 6125 6.4.3): ``*.azurecontainerapps.io`` does not match
``app--rev.env.koreacentral.azurecontainerapps.io``. The listeners therefore pick a certificate by the
name the client asks for (SNI): names in ``SERVER_NAMES`` get the shared certificate, other names the
host table accepts get a leaf of their own, minted once and cached.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from pytest_acalab.emulator.platform.hosts import one_label_under

# Names the shared certificate answers for: loopback, plus the real Azure host names that the loopback
# CONNECT proxy routes back to the emulator (each wildcard covers one label).
SERVER_NAMES = (
    "127.0.0.1",
    "localhost",
    "management.azure.com",
    "login.microsoftonline.com",
    "api.loganalytics.io",
    "*.azurecr.io",
    "*.blob.core.windows.net",
    "*.azurecontainerapps.dev",
    "*.azurecontainerapps.io",
    "*.vault.azure.net",
    "*.ods.opinsights.azure.com",
    "*.in.applicationinsights.azure.com",
)
MAX_MINTED = 4096
"""Leaf certificates kept per emulator (a bound, never reached by a lab run)."""


def covered(host: str, names: tuple[str, ...] = SERVER_NAMES) -> bool:
    """Whether the shared certificate's names match ``host`` as a TLS client checks them."""
    host = host.lower().rstrip(".")
    for name in names:
        if name.startswith("*."):
            if one_label_under(host, name[1:]):
                return True
        elif host == name:
            return True
    return False


def _server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


@dataclass
class Certificates:
    ca_bundle: Path
    context: ssl.SSLContext
    """The listeners' context: the shared certificate, and an SNI hook for names it does not cover."""
    ca: trustme.CA | None = None
    may_mint: Callable[[str], bool] = lambda host: False
    """Which uncovered names get a leaf certificate (set from the emulator's host table)."""
    _leaves: dict[str, ssl.SSLContext] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def context_for(self, host: str) -> ssl.SSLContext | None:
        """A server context whose certificate names ``host`` exactly (minted once), or None."""
        host = host.lower().rstrip(".")
        if self.ca is None or covered(host) or not self.may_mint(host):
            return None
        with self._lock:
            ctx = self._leaves.get(host)
            if ctx is None and len(self._leaves) < MAX_MINTED:
                ctx = self._leaves[host] = _server_context(self.ca.issue_cert(host))
            return ctx

    def _sni(self, sock: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        if server_name:
            leaf = self.context_for(server_name)
            if leaf is not None:
                sock.context = leaf


def mint(directory: Path) -> Certificates:
    ca = trustme.CA(organization_name="pytest-acalab emulator")
    directory.mkdir(parents=True, exist_ok=True)
    bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    certs = Certificates(bundle, _server_context(ca.issue_cert(*SERVER_NAMES)), ca)
    certs.context.sni_callback = certs._sni
    return certs


def host_context(ca: trustme.CA, host: str) -> ssl.SSLContext:
    """A server context whose certificate names ``host`` exactly (and 127.0.0.1, for direct loopback clients).

    An app's fqdn (``<app>.<word>-<hex>.<region>.azurecontainerapps.io``) is several labels below
    ``azurecontainerapps.io``, which a wildcard certificate cannot cover: a wildcard matches one label.
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host, "127.0.0.1").configure_cert(ctx)
    return ctx
