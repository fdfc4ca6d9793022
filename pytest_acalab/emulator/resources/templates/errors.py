"""Errors raised by the ARM template engine."""

from __future__ import annotations

from typing import Any


class TemplateError(Exception):
    """A template or deployment error in the shape ARM reports it (``{"code", "message", ...}``)."""

    def __init__(
        self,
        code: str,
        message: str,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.target = target
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            out["target"] = self.target
        if self.details:
            out["details"] = self.details
        return out

    def __repr__(self) -> str:
        return f"TemplateError(code={self.code!r}, message={self.message!r})"


class ExpressionError(TemplateError):
    """A problem in one expression; the engine adds where it happened before reporting it."""

    def __init__(self, message: str, code: str = "InvalidTemplate") -> None:
        super().__init__(code, message)


class ResourceLookupError(Exception):
    """Raised by a ResourceHost when a resource or action cannot be served (e.g. ResourceNotFound)."""

    def __init__(self, code: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


def invalid_template(message: str, target: str | None = None) -> TemplateError:
    """ARM wraps every static template problem this way."""
    return TemplateError(
        "InvalidTemplate", f"Deployment template validation failed: '{message}'", target=target
    )
