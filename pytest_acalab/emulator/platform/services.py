"""Contracts between providers: what one provider offers another, with no import between them.

Container Apps needs to know whether a replica can pull an image (the registry provider answers)
and where to write system logs (the Log Analytics provider answers); the registry asks which roles a
principal holds on it (the authorization provider answers). Each provider registers its
implementation on ``platform.services``; consumers only see these protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class PullAuth:
    """How a client authenticates to a registry: admin user/password, a managed identity, or nothing."""

    username: str | None = None
    password: str | None = None
    principal_id: str | None = None
    """Object id of a managed identity (system- or user-assigned) the app uses for this registry."""


@dataclass(frozen=True)
class PullResult:
    ok: bool
    code: str | None = None
    """``MANIFEST_UNKNOWN`` | ``NAME_UNKNOWN`` | ``UNAUTHORIZED`` | ``DENIED`` | ``NO_SUCH_HOST``"""
    message: str = ""
    """The registry's own error text, e.g. ``manifest tagged by "x" is not found``."""
    detail: Any = None
    digest: str | None = None
    size: int = 0


@dataclass(frozen=True)
class ImageFiles:
    """What a pull hands a container runtime: the image's config document and its flattened files."""

    digest: str
    config: dict[str, Any]
    files: dict[str, tuple[bytes, int]]
    """path -> (bytes, mode); directories end with ``/``."""


class ImageResolver(Protocol):
    def check_pull(self, image: str, auth: PullAuth) -> PullResult:
        """Whether ``image`` (``host/repo:tag`` or ``host/repo@digest``) can be pulled with ``auth`` now."""
        ...

    def fetch(self, image: str) -> ImageFiles | None:
        """The content of ``image`` after a successful ``check_pull``; None when it is gone."""
        ...


class LogSink(Protocol):
    def ingest(self, customer_id: str, table: str, rows: list[dict[str, Any]], generated_at: datetime) -> None:
        """Write rows into a workspace's table; they become queryable after the ingestion delay."""
        ...

    def check_shared_key(self, customer_id: str, shared_key: str) -> bool:
        """Whether ``customer_id`` names a workspace and ``shared_key`` is one of its keys."""
        ...


class RoleAuthority(Protocol):
    def roles_for(self, principal_id: str, resource_id: str) -> set[str]:
        """Built-in role names ``principal_id`` holds on ``resource_id`` (assigned there or above, as in RBAC)."""
        ...

    def remove_under(self, scope: str) -> int:
        """Drop the assignments at ``scope`` and below (the resource was deleted); how many were dropped."""
        ...


SecretLookup = Callable[[str, str], tuple[str | None, str]]
"""``lookup(secret_url, principal_id)``: a Key Vault secret's value for a managed identity, or ``(None, why)``
(``Forbidden``, ``SecretNotFound``, ``no such host ...``): how Container Apps resolves ``keyVaultUrl`` secrets."""


@dataclass
class Services:
    registry: ImageResolver | None = None
    logs: LogSink | None = None
    authorization: RoleAuthority | None = None
    secrets: SecretLookup | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Each provider's state by provider name (``app``, ``containerregistry``, ``log_analytics``): for
    tests and benchmarks that look inside; providers talk to each other through the typed fields only."""
