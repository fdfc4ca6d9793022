"""Secrets never reach logs, junit, reports or the terminal: every output passes through here."""

from __future__ import annotations

import logging
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


class LogScrubber(logging.Filter):
    """A handler filter: every log record (any library's: urllib3 logs SAS URLs at DEBUG) leaves scrubbed.

    Installed on pytest's log handlers (live logging, log file, captured logs in reports), it rewrites the
    record's message (and traceback text) once; records are shared between handlers, so that is enough.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__("acalab-scrub")
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_acalab_scrubbed", None) is self.scrubber:  # another handler of this run did it
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: leave it to logging's own error path
            return True
        clean = self.scrubber.text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrubber.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrubber.text(record.stack_info)
        record._acalab_scrubbed = self.scrubber
        return True


def install_log_scrubber(handlers: list[logging.Handler], scrubber: Scrubber) -> None:
    """Add one ``LogScrubber`` to each handler (idempotent)."""
    for handler in handlers:
        if not any(isinstance(f, LogScrubber) for f in handler.filters):
            handler.addFilter(LogScrubber(scrubber))


def excerpt(text: str, limit: int = 600) -> str:
    """A capped excerpt: CI systems show failure messages, not megabytes (pytest #4559)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 20].rstrip() + f" … [{len(text) - limit + 20} more chars]"
