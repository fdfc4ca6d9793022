"""Transient retry: what is retried, for how long, and how giving up reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError

from pytest_acalab.errors import RetryExhausted
from pytest_acalab.polling import call, retry_after


class Answer:
    """An HTTP answer as azure-core's exceptions read it (status, headers, body)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "reason"
        self.headers = headers or {}
        self.request = None
        self._body = f'{{"error": {{"code": "{code}", "message": "{message}"}}}}'

    def text(self, encoding: str | None = None) -> str:
        return self._body

    def body(self) -> bytes:
        return self._body.encode()


def http_error(status: int, code: str = "Code", message: str = "msg", headers: dict[str, str] | None = None,
               cls: type[HttpResponseError] = HttpResponseError) -> HttpResponseError:
    return cls(response=Answer(status, code, message, headers))


def failing(errors: list[BaseException], result: Any = "ok") -> Any:
    calls = {"n": 0}

    def fn() -> Any:
        calls["n"] += 1
        if calls["n"] <= len(errors):
            raise errors[calls["n"] - 1]
        return result

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def test_server_errors_and_connection_errors_are_retried() -> None:
    fn = failing([http_error(503, "ServiceUnavailable"), ServiceRequestError("connection reset"),
                  requests.ConnectionError("refused"), http_error(500, "InternalServerError")])
    assert call(fn, deadline=5, what="GET app", base_wait=0.01) == "ok"
    assert fn.calls["n"] == 5


def test_throttling_honours_retry_after() -> None:
    fn = failing([http_error(429, "TooManyRequests", headers={"Retry-After": "0.3"})])
    started = time.monotonic()
    assert call(fn, deadline=5, what="GET app", base_wait=0.01) == "ok"
    assert time.monotonic() - started >= 0.3
    assert retry_after(http_error(429, headers={"retry-after-ms": "250"})) == 0.25
    assert retry_after(http_error(429)) is None


def test_client_errors_propagate_at_once() -> None:
    fn = failing([http_error(400, "InvalidParameterValueInContainerTemplate", "bad image")])
    with pytest.raises(HttpResponseError, match="bad image"):
        call(fn, deadline=5, what="PATCH app", base_wait=0.01)
    assert fn.calls["n"] == 1


def test_not_found_is_retried_only_while_the_resource_is_fresh() -> None:
    fresh = failing([http_error(404, "ResourceNotFound", cls=ResourceNotFoundError)])
    until = datetime.now(UTC) + timedelta(seconds=30)
    assert call(fresh, deadline=5, what="GET app", base_wait=0.01, fresh_until=until) == "ok"
    old = failing([http_error(404, "ResourceNotFound", cls=ResourceNotFoundError)])
    with pytest.raises(ResourceNotFoundError):
        call(old, deadline=5, what="GET app", base_wait=0.01, fresh_until=datetime.now(UTC) - timedelta(seconds=1))
    assert old.calls["n"] == 1


def test_gives_up_at_the_deadline_with_a_clear_message() -> None:
    fn = failing([http_error(503, "ServiceUnavailable", "The service is currently unavailable.")] * 1000)
    started = time.monotonic()
    with pytest.raises(RetryExhausted) as info:
        call(fn, deadline=0.4, what="GET container app 'ca-x'", base_wait=0.02)
    # it stopped because of the deadline, not because the scripted failures ran out
    assert time.monotonic() - started >= 0.4 and info.value.elapsed >= 0.4 and fn.calls["n"] < 1000
    assert info.value.attempts == fn.calls["n"]
    message = str(info.value)
    assert message.startswith("GET container app 'ca-x': gave up after ")
    assert f"gave up after {fn.calls['n']} attempts over " in message
    assert message.endswith("503 (ServiceUnavailable) The service is currently unavailable.")
