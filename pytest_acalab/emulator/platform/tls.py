"""A certificate authority minted per emulator, and the server certificate it signs."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

# Names the certificate answers for: loopback, plus the real Azure host names that a loopback
# CONNECT proxy (used by the Azure CLI's data-plane commands) can route back to the emulator.
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
)


@dataclass
class Certificates:
    ca_bundle: Path
    context: ssl.SSLContext
    ca: trustme.CA
    """The emulator's authority: it also signs a leaf per app host name (see :func:`host_context`)."""


def mint(directory: Path) -> Certificates:
    ca = trustme.CA(organization_name="pytest-acalab emulator")
    cert = ca.issue_cert(*SERVER_NAMES)
    directory.mkdir(parents=True, exist_ok=True)
    bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return Certificates(bundle, ctx, ca)


def host_context(ca: trustme.CA, host: str) -> ssl.SSLContext:
    """A server context whose certificate names ``host`` exactly (and 127.0.0.1, for direct loopback clients).

    An app's fqdn (``<app>.<word>-<hex>.<region>.azurecontainerapps.io``) is several labels below
    ``azurecontainerapps.io``, which a wildcard certificate cannot cover: a wildcard matches one label.
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host, "127.0.0.1").configure_cert(ctx)
    return ctx
