"""Transport-neutral request and response objects the emulator's handlers see."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote


class Headers:
    """Case-insensitive header mapping that keeps the original spelling for output."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for k, v in items:
            self[k] = v

    def __setitem__(self, key: str, value: str) -> None:
        self._items[key.lower()] = (key, value)

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def get(self, key: str, default: str | None = None) -> str | None:
        item = self._items.get(key.lower())
        return item[1] if item else default

    def pop(self, key: str, default: str | None = None) -> str | None:
        item = self._items.pop(key.lower(), None)
        return item[1] if item else default

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self._items.values())

    def __repr__(self) -> str:
        return f"Headers({list(self.items())!r})"


def decode_path(path: str) -> str:
    """Percent-decode a request path as ARM does (``rg%281%29`` is ``rg(1)``), keeping an encoded ``/``
    inside one segment rather than splitting the path on it."""
    if "%" not in path:
        return path
    out = []
    for segment in path.split("/"):
        if "%" in segment:
            try:
                segment = unquote(segment.replace("%2F", "%252F").replace("%2f", "%252f"), errors="strict")
            except UnicodeDecodeError:
                pass  # not UTF-8: left as sent, and refused by the name checks that see it
        out.append(segment)
    return "/".join(out)


@dataclass
class Request:
    method: str
    path: str
    """Path without the query string, with repeated slashes collapsed."""
    query: dict[str, str]
    headers: Headers
    body: bytes
    host: str
    """The virtual host the request reached (``management`` or a registry login server)."""
    authority: str = ""
    """The ``Host`` header without its port (``management.azure.com``, ``<acct>.blob.core.windows.net``)."""
    internal: bool = False
    """True for calls the emulator makes to itself (template deployments): authentication is skipped."""
    principal: dict[str, Any] | None = None
    target: str = ""
    """The request target as the client sent it (path and query, unnormalised): what a proxy forwards."""
    client: str = ""
    """The client's address (always a loopback one)."""

    @classmethod
    def build(cls, method: str, target: str, headers: Headers, body: bytes, host: str) -> Request:
        path, _, qs = target.partition("?")
        path = decode_path(path)
        while "//" in path:
            path = path.replace("//", "/")
        query = {k: v for k, v in parse_qsl(qs, keep_blank_values=True)}
        authority = (headers.get("Host") or "").lower()
        if authority.startswith("["):
            authority = authority.partition("]")[0] + "]"
        else:
            authority = authority.partition(":")[0]
        return cls(method.upper(), path, query, headers, body, host, authority, target=target)

    def query_ci(self, name: str) -> str | None:
        """Query parameter looked up case-insensitively (ARM treats ``api-version`` that way)."""
        lname = name.lower()
        for k, v in self.query.items():
            if k.lower() == lname:
                return v
        return None

    def json(self) -> Any:
        """The body parsed as strict JSON (no NaN, bounded depth); raises ArmError(InvalidRequestContent)."""
        from pytest_acalab.emulator.platform import validation

        if not self.body.strip():
            return None
        try:
            return validation.loads(self.body)
        except validation.JsonBodyError as exc:
            raise validation.invalid_content(str(exc)) from None


@dataclass
class Response:
    status: int
    body: bytes | Iterable[bytes] = b""
    headers: Headers = field(default_factory=Headers)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        h = Headers((headers or {}).items())
        h["Content-Type"] = "application/json; charset=utf-8"
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), h)

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> Response:
        return cls(status, b"", Headers((headers or {}).items()))

    def payload(self) -> Any:
        """The JSON body (for in-process callers such as the template engine)."""
        if isinstance(self.body, bytes | bytearray):
            return json.loads(self.body) if self.body else None
        raise TypeError("streaming response has no JSON payload")
