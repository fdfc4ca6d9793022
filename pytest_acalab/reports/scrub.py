"""Secrets never reach logs, junit, reports or the terminal: every output passes through here."""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"
# Shapes that are secrets whatever their value: bearer tokens, JWTs, SAS signatures, passwords in JSON.
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-_\.=]+"),
    re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"),
    re.compile(r"(?i)([?&]sig=)[^&\s\"']+"),
    re.compile(r"(?i)(\"(?:password|passwordValue|sharedKey|primarySharedKey|secondarySharedKey|value|"
               r"client_secret|access_token|refresh_token|token)\"\s*:\s*\")[^\"]{6,}(\")"),
)


class Scrubber:
    def __init__(self, secrets: set[str] | None = None) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        for s in secrets or ():
            self.add(s)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 6:
            with self._lock:
                self._secrets.add(secret)

    def text(self, value: str) -> str:
        out = value
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for s in secrets:
            if s in out:
                out = out.replace(s, MASK)
        for pat in _PATTERNS:
            if pat.groups >= 2:
                out = pat.sub(lambda m: m.group(1) + MASK + m.group(2), out)
            elif pat.groups == 1:
                out = pat.sub(lambda m: m.group(1) + MASK, out)
            else:
                out = pat.sub(MASK, out)
        return out

    def data(self, value: Any) -> Any:
        """Scrub strings anywhere inside JSON-like data."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def excerpt(text: str, limit: int = 600) -> str:
    """A capped excerpt: CI systems show failure messages, not megabytes (pytest #4559)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 20].rstrip() + f" … [{len(text) - limit + 20} more chars]"
