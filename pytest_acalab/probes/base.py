"""What every probe shares: its answer (Observation) and the SDK-call helpers.

A probe *fetches* with the SDK clients of ``ctx.clients`` and *parses* with pure functions (in the same
module) that take the REST JSON Azure sends, so the parsing can be checked on real captured payloads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import LabError, ProbeError, RetryExhausted
from pytest_acalab.polling import call, describe_error

__all__ = ["Observation", "ProbeFn", "fetch", "resource_name"]


@dataclass
class Observation:
    """One probe answer.

    ``value`` is what the tolerance judges; ``source`` names where it was read (``revisions``,
    ``eventstream``, ``log_analytics``, ``deployment_operations``, ...); ``excerpt`` is a short human
    rendering of the evidence (capped and scrubbed by the check runner); ``detail`` holds extra facts.
    """

    value: Any
    source: str
    excerpt: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


ProbeFn = Callable[["LabContext", Mapping[str, Any], float], Observation]
"""``fn(ctx, args, deadline)``: ``args`` already resolved (``${...}``), ``deadline`` in seconds."""

# ---- fetching helpers shared by the probe modules -------------------------------------------------------

NOT_FOUND_GRACE = 60.0
"""Seconds after a phase starts during which a 404 is retried (ARM eventual consistency after a create)."""


def fetch(ctx: LabContext, fn: Callable[[], Any], *, what: str, deadline: float,
          keep: tuple[type[BaseException], ...] = (), absent_ok: bool = False) -> Any:
    """Run one SDK call with transient retry; turn API failures into ``ProbeError``.

    ``keep``: exception types the caller interprets itself (e.g. ResourceNotFoundError for a tag).
    ``absent_ok``: the caller expects that a 404 may be the answer, so it is not retried as "fresh".
    """
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import AzureError


    fresh = None if absent_ok else ctx.since("phase") + timedelta(seconds=NOT_FOUND_GRACE)
    try:
        return call(fn, deadline=deadline, what=what, base_wait=max(ctx.backend.deadlines.poll_interval, 0.05),
                    fresh_until=fresh)
    except keep:
        raise
    except RetryExhausted as exc:
        raise ProbeError(str(exc)) from exc
    except AzureError as exc:
        raise ProbeError(f"{what}: {describe_error(exc)}") from exc
    except OSError as exc:  # requests' errors are OSErrors
        raise ProbeError(f"{what}: {describe_error(exc)}") from exc


def resource_name(ctx: LabContext, alias: str) -> str:
    """The name of the resource an alias names; ``ProbeError`` when the group has none."""
    try:
        return ctx.resource(alias).name
    except LabError as exc:
        raise ProbeError(str(exc)) from exc
    except Exception as exc:  # the lookup itself is an SDK call
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.core.exceptions import AzureError

        if isinstance(exc, AzureError):
            raise ProbeError(f"finding resource '{alias}' in '{ctx.resource_group}': {exc}") from exc
        raise


# ---- parsing helpers -------------------------------------------------------------------------------------

_GO_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?\s*"
    r"(?:(?P<z>Z)|(?P<off>[+-]\d{2}:?\d{2}))?(?:\s*UTC)?$")


def parse_timestamp(value: Any) -> Any:
    """A ``datetime`` (UTC) from the timestamp shapes Azure sends, or None.

    ``2025-05-24T17:22:34Z``, ``2026-06-29T08:32:16+00:00``, ``2025-05-24T17:22:17.8706579`` (7 digits,
    no zone: UTC), and the event stream's Go rendering ``2025-05-24 17:22:29.4269018 +0000 UTC``.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    match = _GO_TIME.match(value.strip())
    if not match:
        return None
    frac = (match.group("frac") or "0")[:6].ljust(6, "0")
    base = datetime.fromisoformat(f"{match.group('date')}T{match.group('time')}.{frac}")
    tz = UTC
    off = match.group("off")
    if off:
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return base.replace(tzinfo=tz).astimezone(UTC)


def iso(value: Any) -> str | None:
    """``2025-05-24T17:22:29.426901Z`` for a datetime, None otherwise."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")
