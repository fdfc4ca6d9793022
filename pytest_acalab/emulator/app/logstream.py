"""A container's console log stream: ``GET {replica}/containers/{container}/logstream`` on the data plane.

Shape from the recorded answers (containerapp CLI recordings test_containerapp_logstream.yaml, 2023 and
2025): JSON lines ``{"TimeStamp", "Log"}``, first "Connecting to the container '<c>'..." and "Successfully
Connected to container: '<c>' [Revision: '<r>', Replica: '<p>']" (timestamps with five fractional digits),
then the container's own output. The emulator's runtime keeps no console output yet, so only the two
connection lines follow; a runtime that records output would append it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_acalab.emulator.app import syslog
from pytest_acalab.emulator.platform.http import Headers, Request, Response

if TYPE_CHECKING:
    from pytest_acalab.emulator.app.models import AppService
    from pytest_acalab.emulator.platform.core import Platform

LOG_STREAM = ("/subscriptions/{sub}/resourceGroups/{rg}/containerApps/{name}/revisions/{revision}/replicas/"
              "{replica}/containers/{container}/logstream")


class LogStreams:
    def __init__(self, platform: Platform, service: AppService) -> None:
        self.p = platform
        self.svc = service

    def register(self) -> None:
        self.p.route("GET", LOG_STREAM, self.stream, auth=False)

    def stream(self, req: Request, sub: str, rg: str, name: str, revision: str, replica: str,
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
        if rep is None:
            # Guess (not recorded): a plain-text 404 like the event stream's.
            return Response(404, f"Replica '{replica}' of revision '{revision}' was not found.".encode())
        if container not in names:
            return Response(404, f"Container '{container}' was not found in replica '{replica}'.".encode())
        now = self.p.clock.now()
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 10:05d}"
        lines = [{"TimeStamp": stamp, "Log": f"Connecting to the container '{container}'..."},
                 {"TimeStamp": stamp, "Log": f"Successfully Connected to container: '{container}' [Revision: "
                                             f"'{revision}', Replica: '{replica}']"}]
        body = "".join(syslog.encode_stream_line(line) + "\n" for line in lines).encode()
        return Response(200, body)
