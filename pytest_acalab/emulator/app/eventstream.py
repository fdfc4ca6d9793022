"""The event stream (``az containerapp logs show --type system``) and the console log stream (``--type console``).

``GET {eventStreamEndpoint}?follow=&output=&tailLines=`` with the bearer token of the resource's
``getAuthToken``; NDJSON, chunked, no Content-Type (Azure CLI recordings, test_containerapp_eventstream).
The console stream is the replica container's ``logStreamEndpoint`` with the app's token: two connection
lines, then the container's lines as ``{"TimeStamp": ..., "Log": "F <line>"}`` (test_containerapp_logstream).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pytest_acalab.emulator.app import consolelogs, syslog
from pytest_acalab.emulator.platform.http import Headers, Request, Response

if TYPE_CHECKING:
    from pytest_acalab.emulator.app.service import AppService
    from pytest_acalab.emulator.platform.core import Platform

APP_STREAM = "/subscriptions/{sub}/resourceGroups/{rg}/containerApps/{name}/eventstream"
CONSOLE_STREAM = ("/subscriptions/{sub}/resourceGroups/{rg}/containerApps/{name}/revisions/{revision}/replicas/"
                  "{replica}/containers/{container}/logstream")
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
        self.p.route("GET", CONSOLE_STREAM, self.console_stream, auth=False)

    def console_stream(self, req: Request, sub: str, rg: str, name: str, revision: str, replica: str,
                       container: str) -> Response:
        auth = req.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token or not self.svc.check_token(token, sub, rg, name, False):
            return Response(401, b"", Headers([("WWW-Authenticate", "Bearer")]))
        rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/containerApps/{name}"
        with self.p.lock:
            app = self.svc.apps.get(rid.lower())
            rev = app.revisions.get(revision) if app is not None and not app.deleted else None
            rep = next((r for r in rev.replicas if r.name == replica), None) if rev is not None else None
            names = [c.name for c in rep.containers] if rep is not None else []
        # Guesses (not recorded): plain-text 404s like the event stream's.
        if app is None or rep is None:
            return Response(404, f"Replica '{replica}' of revision '{revision}' was not found.".encode())
        if container not in names:
            return Response(404, f"Container '{container}' was not found in replica '{replica}'.".encode())
        follow = (req.query_ci("follow") or "false").lower() == "true"
        try:
            tail = int(req.query_ci("tailLines") or 20)
        except ValueError:
            return Response(400, b"Invalid value for 'tailLines': it must be an integer between 0 and 300.")

        def mine(line: consolelogs.ConsoleLine) -> bool:
            return line.replica == replica and line.container == container

        def render(record: dict[str, str]) -> bytes:
            return (json.dumps(record, separators=(",", ":")) + "\n").encode()

        with self.p.lock:
            start = app.console_dropped + len(app.console)
            backlog = [line for line in app.console if mine(line)][-tail:] if tail > 0 else []
        # The connection lines come from the stream service (.NET's encoder: ``'`` as ``\\u0027``); the
        # container's own lines pass through as the runtime wrote them (recorded: ``+00:00`` unescaped).
        head = [(syslog.encode_stream_line(r) + "\n").encode()
                for r in consolelogs.connection_records(self.p.clock.now(), container, revision, replica)]
        head += [render(consolelogs.stream_record(line)) for line in backlog]

        def body() -> Iterator[bytes]:
            yield b"".join(head)
            if not follow:
                return
            index = start
            deadline = time.monotonic() + self.follow_seconds
            while time.monotonic() < deadline and not app.deleted:
                self.p.scheduler.run_due()
                with self.p.lock:
                    fresh = [line for line in app.console[max(0, index - app.console_dropped):] if mine(line)]
                    index = app.console_dropped + len(app.console)
                if fresh:
                    yield b"".join(render(consolelogs.stream_record(line)) for line in fresh)
                time.sleep(self.poll_seconds)

        return Response(200, body())

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
