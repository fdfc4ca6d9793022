"""Long-running operations in the shapes Azure uses
(https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations).

Two polling styles exist on the wire:
- ``Azure-AsyncOperation``: the status URL answers ``{"status": "InProgress"|"Succeeded"|"Failed", ...}``
  and the client then GETs the resource itself;
- ``Location``: the URL answers 202 while running, then the final result (200 with a body, 204, or
  the error with its status).
Every answer carries ``retry-after-ms`` (never 0: azure-core treats 0 as absent and falls back to a
30 s polling interval) so SDK pollers follow the emulator's clock, not their default.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pytest_acalab.emulator.platform.clock import Clock, iso, wall_at
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.faults import STALL_FACTOR, Faults
from pytest_acalab.emulator.platform.http import Response
from pytest_acalab.emulator.platform.scheduler import Scheduler

Outcome = dict[str, Any] | None
"""What finishing an operation yields: ``None`` for success, or an ARM error object."""


@dataclass
class Operation:
    id: str
    status_url: str
    started: datetime
    due: float
    finish: Callable[[], Outcome]
    final: Callable[[Operation], Response] | None
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    ended: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status != "InProgress"


def _stalled() -> Outcome:
    return {"code": "InternalServerError",
            "message": "The operation did not complete in the expected time and was aborted due to an internal "
                       "server error. Please retry the request later."}


class Operations:
    """Registry of running operations, completed by the scheduler when their time comes."""

    def __init__(self, clock: Clock, scheduler: Scheduler, faults: Faults | None = None) -> None:
        self._clock = clock
        self._scheduler = scheduler
        self._ops: dict[str, Operation] = {}
        self.faults = faults or Faults()
        """The fault switch: its ``stall_then_fail`` share of operations stall, then fail."""

    def start(
        self,
        status_url: Callable[[str], str],
        seconds: float,
        finish: Callable[[], Outcome],
        final: Callable[[Operation], Response] | None = None,
    ) -> Operation:
        """Start an operation taking ``seconds`` (real); ``finish`` applies its effect and may fail it.

        Fault injection (``stall_then_fail``): a drawn operation takes ``STALL_FACTOR`` times longer and
        then fails with ARM's ``InternalServerError`` without applying its effect, as a stuck backend would.
        """
        op_id = str(uuid.uuid4())
        if self.faults.draw_stall():
            seconds *= STALL_FACTOR
            finish = _stalled
        op = Operation(op_id, status_url(op_id), self._clock.now(), time.monotonic() + seconds, finish, final)
        if finish is _stalled:
            op.extra["error_status"] = 500
            op.extra["stalled"] = True
        self._ops[op_id] = op
        self._scheduler.at(op.due, functools.partial(self._complete, op))
        return op

    def start_manual(self, status_url: Callable[[str], str]) -> Operation:
        """An operation whose end is decided by its owner (a deployment's worker) via ``complete``."""
        op_id = str(uuid.uuid4())
        op = Operation(op_id, status_url(op_id), self._clock.now(), float("inf"), lambda: None, None)
        op.extra["manual"] = True
        self._ops[op_id] = op
        return op

    def complete(self, op: Operation, error: dict[str, Any] | None) -> None:
        op.status = "Failed" if error else "Succeeded"
        op.error = error
        op.ended = self._clock.now()

    def _complete(self, op: Operation, due: float) -> None:
        if op.done:
            return
        try:
            error = op.finish()
        except ArmError as exc:
            error = exc.error_object()
        op.status = "Failed" if error else "Succeeded"
        op.error = error
        op.ended = wall_at(due)

    def get(self, op_id: str) -> Operation | None:
        return self._ops.get(op_id)

    def retry_after_ms(self, op: Operation) -> str:
        if op.extra.get("manual"):
            return "25"
        remaining = max(op.due - time.monotonic(), 0.0)
        return str(max(1, min(int(remaining * 1000) + 1, 5000)))

    # answers ----------------------------------------------------------------------------------
    def async_headers(self, op: Operation, location: bool = False) -> dict[str, str]:
        headers = {
            "Azure-AsyncOperation": op.status_url,
            "retry-after-ms": self.retry_after_ms(op),
            "x-ms-async-operation-timeout": "PT15M",
        }
        if location:
            headers["Location"] = op.status_url.replace("OperationStatuses", "OperationResults").replace(
                "operationStatuses", "operationResults"
            )
        return headers

    def location_headers(self, op: Operation) -> dict[str, str]:
        return {"Location": op.status_url, "retry-after-ms": self.retry_after_ms(op)}

    def status_response(self, op: Operation) -> Response:
        """The answer of an ``Azure-AsyncOperation`` status URL."""
        body: dict[str, Any] = {
            "id": urlsplit(op.status_url).path,
            "name": op.id,
            "status": op.status,
            "startTime": iso(op.started),
        }
        if op.ended:
            body["endTime"] = iso(op.ended)
        if op.error:
            body["error"] = op.error
        headers = {} if op.done else {"retry-after-ms": self.retry_after_ms(op)}
        return Response.json(200, body, headers)

    def location_response(self, op: Operation) -> Response:
        """The answer of a ``Location`` URL: 202 until done, then the final result."""
        if not op.done:
            return Response.json(
                202, op.extra.get("pending_body", None), {"Location": op.status_url,
                                                          "retry-after-ms": self.retry_after_ms(op)}
            ) if op.extra.get("pending_body") is not None else Response.empty(
                202, {"Location": op.status_url, "retry-after-ms": self.retry_after_ms(op)}
            )
        if op.error:
            status = int(op.extra.get("error_status", 400))
            return Response.json(status, {"error": op.error})
        if op.final:
            return op.final(op)
        return Response.empty(204)
