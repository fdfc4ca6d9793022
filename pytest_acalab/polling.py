"""Polling and transient-failure retry around the SDK calls of probes, actions and the lifecycle.

Retried: throttling (429, honouring ``Retry-After`` / ``retry-after-ms``), server errors (5xx), connection
errors, and 404 ResourceNotFound while a resource is fresh (ARM's eventual consistency right after a
create: terraform-provider-azurerm #18268). Everything else propagates unchanged so the caller can read
it (a missing tag is an answer, not an error). Retries are bounded by a deadline, never by a count.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_acalab.errors import RetryExhausted

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["RetryExhausted", "call", "describe_error", "is_transient", "poll", "retry_after"]

T = TypeVar("T")

MAX_BACKOFF = 8.0


def describe_error(exc: BaseException) -> str:
    """One line: status, ARM error code and message when the exception carries them."""
    status = _status(exc)
    err = getattr(exc, "error", None)
    code = getattr(err, "code", None)
    message = getattr(err, "message", None) or getattr(exc, "message", None) or str(exc)
    head = " ".join(str(p) for p in (status, f"({code})" if code else None) if p)
    first = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
    return f"{head} {first}".strip() if head else f"{type(exc).__name__}: {first}"


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _headers(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None) or {}


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``Retry-After`` seconds or HTTP date)."""
    headers = _headers(exc)
    try:
        ms = headers.get("retry-after-ms") or headers.get("x-ms-retry-after-ms")
        if ms:
            return max(float(ms) / 1000.0, 0.0)
        value = headers.get("Retry-After") or headers.get("retry-after")
    except (TypeError, ValueError, AttributeError):
        return None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def is_transient(exc: BaseException, *, not_found_is_transient: bool = False) -> bool:
    """Would trying again plausibly succeed?"""
    import requests  # the SDK stack: loaded when a lab runs, never at collection
    from azure.core.exceptions import ResourceNotFoundError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    status = _status(exc)
    if status == 429 or (status is not None and 500 <= status <= 599):
        return True
    if not_found_is_transient and (isinstance(exc, ResourceNotFoundError) or status == 404):
        return True
    return False


def call(fn: Callable[[], T], *, deadline: float, what: str, base_wait: float = 0.5,
         fresh_until: datetime | None = None) -> T:
    """Run ``fn()``; retry transient failures until ``deadline`` seconds have passed.

    ``fresh_until``: while the wall clock is before it, a 404 counts as transient (the resource was just
    created and ARM's read replicas may not know it yet). Raises ``RetryExhausted`` when transient failures
    outlast the deadline; non-transient errors propagate unchanged at once.
    """

    # tenacity costs ~30 ms to import: only when a lab runs, not at `pytest --version` or collection
    from tenacity import RetryError, Retrying, retry_if_exception, stop_after_delay

    def transient(exc: BaseException) -> bool:
        fresh = fresh_until is not None and datetime.now(UTC) < fresh_until
        return is_transient(exc, not_found_is_transient=fresh)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after(exc) if exc is not None else None
        if asked is None:
            asked = min(base_wait * (2 ** (state.attempt_number - 1)), MAX_BACKOFF)
            asked *= 0.75 + random.random() / 2  # jitter: parallel workers do not retry in lockstep
        remaining = deadline - (state.seconds_since_start or 0.0)
        return max(min(asked, remaining), 0.0)

    started = time.monotonic()
    retrying = Retrying(stop=stop_after_delay(max(deadline, 0.0)), wait=wait,
                        retry=retry_if_exception(transient), reraise=False)
    try:
        return retrying(fn)
    except RetryError as exc:
        state = exc.last_attempt
        last = state.exception()
        assert last is not None
        elapsed = time.monotonic() - started
        raise RetryExhausted(what, state.attempt_number, elapsed, last,
                             f"{what}: gave up after {state.attempt_number} attempts over {elapsed:.1f}s: "
                             f"{describe_error(last)}") from last


def poll(fn: Callable[[], T], *, until: Callable[[T], bool], deadline: float, interval: float) -> T:
    """Call ``fn`` every ``interval`` seconds until ``until(result)`` or ``deadline`` seconds pass; the last
    result either way (the caller decides what running out of time means). No fixed sleeps: tenacity."""
    from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed  # ~30 ms: only when a lab runs

    return Retrying(stop=stop_after_delay(max(deadline, 0.0)), wait=wait_fixed(max(interval, 0.0)),
                    retry=retry_if_result(lambda result: not until(result)),
                    retry_error_callback=lambda rs: rs.outcome.result() if rs.outcome else None)(fn)
