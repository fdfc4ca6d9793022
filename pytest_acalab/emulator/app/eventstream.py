"""The event stream (``az containerapp logs show --type system``): the app's and the environment's.

``GET {eventStreamEndpoint}?follow=&output=&tailLines=`` with the bearer token of the resource's
``getAuthToken``; NDJSON, chunked, no Content-Type (recordings 2025 test_containerapp_eventstream.yaml).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pytest_acalab.emulator.app import syslog
from pytest_acalab.emulator.platform.http import Headers, Request, Response

if TYPE_CHECKING:
    from pytest_acalab.emulator.app.service import AppService
    from pytest_acalab.emulator.platform.core import Platform

APP_STREAM = "/subscriptions/{sub}/resourceGroups/{rg}/containerApps/{name}/eventstream"
ENV_STREAM = "/subscriptions/{sub}/resourceGroups/{rg}/managedEnvironments/{name}/eventstream"


class EventStreams:
    follow_seconds: float = 30.0
    """How long a ``follow=true`` connection stays open (Azure keeps it open until the client leaves)."""
    poll_seconds: float = 0.02

    def __init__(self, platform: Platform, service: AppService) -> None:
        self.p = platform
        self.svc = service

    def register(self) -> None:
        self.p.route("GET", APP_STREAM, self.app_stream, auth=False)
        self.p.route("GET", ENV_STREAM, self.env_stream, auth=False)

    def app_stream(self, req: Request, sub: str, rg: str, name: str) -> Response:
        return self._stream(req, sub, rg, name, env=False)

    def env_stream(self, req: Request, sub: str, rg: str, name: str) -> Response:
        return self._stream(req, sub, rg, name, env=True)

    def _stream(self, req: Request, sub: str, rg: str, name: str, env: bool) -> Response:
        auth = req.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token or not self.svc.check_token(token, sub, rg, name, env):
            return Response(401, b"", Headers([("WWW-Authenticate", "Bearer")]))
        kind = "managedEnvironments" if env else "containerApps"
        rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/{kind}/{name}"
        with self.p.lock:
            target = self.svc.env_by_id(rid) if env else self.svc.apps.get(rid.lower())
        if target is None:
            return Response(404, f"{kind} '{name}' was not found.".encode())
        follow = (req.query_ci("follow") or "false").lower()
        output = (req.query_ci("output") or "json").lower()
        tail_text = req.query_ci("tailLines")
        if follow not in ("true", "false"):
            return Response(400, b"Invalid value for 'follow': expected true or false.")
        if output not in ("json", "text"):
            return Response(400, b"Invalid value for 'output': expected json or text.")
        try:
            tail = 20 if tail_text in (None, "") else int(tail_text)
        except ValueError:
            tail = -1
        if not 0 <= tail <= 300:
            return Response(400, b"Invalid value for 'tailLines': it must be an integer between 0 and 300.")

        def render(ev: syslog.SystemEvent) -> bytes:
            line = (syslog.encode_stream_line(syslog.stream_record(ev)) if output == "json"
                    else syslog.text_line(ev))
            return (line + "\n").encode()

        with self.p.lock:
            events = target.events
            start = len(events)
            backlog = events[max(0, start - tail):start] if tail else []
        head = [render(ev) for ev in syslog.connection_lines(self.p.clock.now())] + [render(ev) for ev in backlog]

        def body() -> Iterator[bytes]:
            yield b"".join(head)
            if follow != "true":
                return
            index = start
            deadline = time.monotonic() + self.follow_seconds
            while time.monotonic() < deadline and not target.deleted:
                self.p.scheduler.run_due()
                with self.p.lock:
                    fresh = target.events[index:]
                    index += len(fresh)
                if fresh:
                    yield b"".join(render(ev) for ev in fresh)
                time.sleep(self.poll_seconds)

        return Response(200, body())
