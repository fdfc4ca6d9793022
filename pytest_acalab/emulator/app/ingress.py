"""The Container Apps edge: an app's ingress host names served on loopback, requests forwarded to a replica.

What Azure documents and the Practical Guide measured, modelled here:

- Host names (https://learn.microsoft.com/azure/container-apps/ingress-overview): the app's
  ``<app>.<env domain>`` (external ingress), its revisions' ``<app>--<suffix>.<env domain>`` and traffic
  labels' ``<app>---<label>.<env domain>``. Internal ingress (``<app>.internal.<env domain>``) "allows only
  internal access from within your container app's environment": from outside (the proxy, a test, a lab)
  such a name does not resolve, and calls from one app to another are not modelled.
- Traffic splitting by weight: a smooth weighted round-robin, so 50/50 over N requests gives each
  revision exactly N/2 (Azure picks at random; the proportion is what its docs promise). In single
  revision mode the revision being replaced keeps serving until the new one is ready ("zero downtime",
  https://learn.microsoft.com/azure/container-apps/revisions).
- A ready replica of the chosen revision, round-robin, reached on the app's *current* ``targetPort``
  inside the replica's own network namespace (``Pod.connect``). Headers added as the docs list them:
  ``X-Forwarded-For`` (appended), ``X-Forwarded-Proto: https`` (overwritten); ``Host`` is the fqdn.
- Nothing listens on the target port: 503 with Envoy's text, as Azure's edge answers it (the Guide's
  ingress-target-port-mismatch and revision-failover labs measured 503 on every request; the body as
  users quote it in microsoft/azure-container-apps#1166 and Azure/azure-functions-docker#1015).
- No ready replica at all: the request is held while the revision may still become ready, at most the
  240 s request timeout the ingress docs state (Azure time, on the emulator's clock; a process that is
  still starting is waited for in real time). The Guide's probe-and-port-mismatch and traffic-routing-canary
  labs measured no answer within curl's 10 s for such revisions. What Azure answers after 240 s was not
  measured; the emulator answers Envoy's ``504 upstream request timeout`` and says in ``HELD_HEADER`` that
  it held the request 240 s, so a lab's client whose timeout is shorter (in Azure time) records no answer,
  as curl did, although the fast clock ended the hold first.
"""

from __future__ import annotations

import http.client
import logging
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.app.state import ContainerApp, Replica, Revision
from pytest_acalab.emulator.platform.http import Headers, Request, Response
from pytest_acalab.emulator.runtime.sandbox import Pod, SandboxError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_acalab.emulator.app.service import AppService

log = logging.getLogger("pytest_acalab.emulator.app")

REQUEST_TIMEOUT_SECONDS = 240.0
"""The HTTP ingress request timeout (ingress-overview: "Requests time out after 240 seconds")."""
CONNECT_TIMEOUT = 5.0
"""Real seconds to open a connection inside a replica's namespace (a local socket: refused or accepted at once)."""
UPSTREAM_TIMEOUT = REQUEST_TIMEOUT_SECONDS
"""Real seconds a workload may take to answer: its own processing time is real, never the clock's to compress."""
HOLD_POLL_SECONDS = 0.01
HELD_HEADER = "x-acalab-held-seconds"
"""On the answer the edge writes after holding a request to the end: the hold, in Azure seconds. The fast
clock ends the hold long before a client's timeout would in Azure (the Guide's curl gave up after 10 s,
``--max-time 10``); the lab's client compares the two in Azure time (``probes.http.HELD_HEADER``)."""

REFUSED = ("upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
           "remote connection failure, transport failure reason: delayed connect error: 111")
CONNECT_TIMED_OUT = "upstream connect error or disconnect/reset before headers. reset reason: connection timeout"
TERMINATED = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
REQUEST_TIMED_OUT = "upstream request timeout"

REPLACED = frozenset({"host", "content-length", "x-forwarded-proto", "x-forwarded-for", "expect"})
"""Request headers the edge writes itself (``Expect: 100-continue`` was already answered to the client)."""
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})


@dataclass(frozen=True)
class Route:
    """What a host name points at: the app, and a revision or a label when the name says so."""

    app: ContainerApp
    host: str
    revision: str | None = None
    label: str | None = None


@dataclass
class _Rotation:
    """Smooth weighted round-robin over ``(revision, weight)``: every pick is the most owed revision."""

    targets: tuple[tuple[str, int], ...]
    current: dict[str, int] = field(default_factory=dict)

    def pick(self) -> str | None:
        total = sum(w for _, w in self.targets)
        if total <= 0:
            return None
        for name, weight in self.targets:
            self.current[name] = self.current.get(name, 0) + weight
        chosen = max(self.targets, key=lambda t: self.current[t[0]])[0]  # first of equals: stable
        self.current[chosen] -= total
        return chosen


def ingress_domain(app: ContainerApp) -> str:
    """The domain an app's ingress names end in: the environment's, under ``internal.`` for internal ingress
    (``<app>.internal.<domain>``, ``<app>--<suffix>.internal.<domain>``, as Azure names them)."""
    external = bool((app.configuration.get("ingress") or {}).get("external"))
    return app.env.default_domain if external else f"internal.{app.env.default_domain}"


def unmodelled_ingress(ingress: dict[str, Any]) -> list[str]:
    """Ingress settings the edge does not honour (a lab relying on them must not pass silently)."""
    out = []
    transport = str(ingress.get("transport") or "auto").lower()
    if transport in ("tcp", "http2"):
        out.append(f"ingress transport '{transport}' is not modelled: the emulator's edge speaks HTTP/1.1 only")
    if ingress.get("ipSecurityRestrictions"):
        out.append("ingress ipSecurityRestrictions are not enforced by the emulator's edge")
    if ingress.get("customDomains"):
        out.append("ingress customDomains are not served by the emulator's edge")
    if ingress.get("additionalPortMappings"):
        out.append("ingress additionalPortMappings are not served by the emulator's edge")
    return out


class Edge:
    """Every app's ingress: which host names exist, and the request path through them."""

    def __init__(self, service: AppService) -> None:
        self.svc = service
        self.p = service.p
        self._rotations: dict[str, _Rotation] = {}
        self._next_replica: dict[tuple[str, str], int] = {}

    # host names ---------------------------------------------------------------------------------
    def route(self, host: str) -> Route | None:
        """The app (and revision or label) ``host`` names, if it resolves from outside the environment."""
        host = host.lower().rstrip(".")
        with self.p.lock:
            for env in list(self.svc.envs.values()):
                domain = env.default_domain.lower()
                if env.deleted or not host.endswith("." + domain):
                    continue
                prefix = host[: -len(domain) - 1]
                if "." in prefix:  # <app>.internal.<domain> and deeper names: inside the environment only
                    return None
                name, revision, label = prefix, None, None
                if "---" in prefix:
                    name, label = prefix.split("---", 1)
                elif "--" in prefix:
                    name, revision = prefix.split("--", 1)[0], prefix
                app = next((a for a in self.svc.apps_in(env) if a.name == name), None)
                if app is None:
                    return None
                for problem in unmodelled_ingress(app.configuration.get("ingress") or {}):
                    self.p.unmodelled(app.id, problem)  # asked for by name: whatever it relies on is said
                if not self._served(app):
                    return None
                if revision is not None:
                    rev = app.revisions.get(revision)
                    if rev is None or not rev.active:
                        return None
                if label is not None and self._label_entry(app, label) is None:
                    return None
                return Route(app, host, revision, label)
        return None

    @staticmethod
    def _served(app: ContainerApp) -> bool:
        ingress = app.configuration.get("ingress") or {}
        transport = str(ingress.get("transport") or "auto").lower()
        return bool(ingress) and bool(ingress.get("external")) and app.ever_succeeded and transport != "tcp"

    @staticmethod
    def _label_entry(app: ContainerApp, label: str) -> dict[str, Any] | None:
        return next((e for e in (app.traffic() or []) if str(e.get("label") or "").lower() == label), None)

    def resolve(self, host: str) -> Callable[[Request], Response] | None:
        """The platform's host resolver: this edge serves ``host`` when it names an app's ingress."""
        return self.serve if self.route(host) is not None else None

    # choosing where a request goes ----------------------------------------------------------------
    def _revision_for(self, route: Route) -> Revision | None:
        app = route.app
        if route.revision is not None:
            return app.revisions.get(route.revision)
        if route.label is not None:
            entry = self._label_entry(app, route.label) or {}
            name = app.latest_revision if entry.get("latestRevision") else entry.get("revisionName")
            return app.revisions.get(name or "")
        targets = tuple((name, weight) for name, weight in self.svc.traffic_targets(app)
                        if weight > 0 and (rev := app.revisions.get(name)) is not None and rev.active)
        rotation = self._rotations.get(app.id)
        if rotation is None or rotation.targets != targets:
            rotation = self._rotations[app.id] = _Rotation(targets)
        chosen = app.revisions.get(rotation.pick() or "")
        if app.single_mode and chosen is not None and not chosen.serving:
            previous = app.revisions.get(app.latest_ready or "")
            if previous is not None and previous.active and previous.serving:
                return previous  # single revision mode: the old revision serves until the new one is ready
        return chosen

    def _replica_of(self, app: ContainerApp, rev: Revision) -> Replica | None:
        serving = [r for r in rev.serving if r.pod is not None]
        if not serving:
            return None
        key = (app.id, rev.name)
        index = self._next_replica.get(key, 0)
        self._next_replica[key] = index + 1
        return serving[index % len(serving)]

    @staticmethod
    def _starting(rev: Revision | None, now: float) -> bool:
        """The revision's image is still being prepared or a process is still starting (real time, which
        the clock cannot compress): Azure would hold the request through a cold start."""
        return rev is not None and any(r.preparing or any(c.grace_until > now for c in r.containers)
                                       for r in rev.current)

    # the request path -------------------------------------------------------------------------------
    def serve(self, req: Request) -> Response:
        """One request that reached an ingress listener (the listener's host name says which app)."""
        with self.p.lock:
            self.p.scheduler.run_due()
            route = self.route(req.host)
            if route is None:
                return Response(0)  # the name no longer resolves: nothing answers on it
            app = route.app
            rev = self._revision_for(route)
            self.svc.scaler.request_started(app, rev)  # in flight from here: what the HTTP scale rule counts
        try:
            return self._serve(req, route, app, rev)
        finally:
            with self.p.lock:
                self.svc.scaler.request_ended(rev)

    def _serve(self, req: Request, route: Route, app: ContainerApp, rev: Revision | None) -> Response:
        deadline = time.monotonic() + self.p.clock.scale(REQUEST_TIMEOUT_SECONDS)
        while True:
            with self.p.lock:
                self.p.scheduler.run_due()
                if app.deleted:
                    return Response(0)
                replica = self._replica_of(app, rev) if rev is not None and rev.active else None
                port = int((app.configuration.get("ingress") or {}).get("targetPort") or 80)
                starting = self._starting(rev, time.monotonic())
                if replica is not None:
                    pod = replica.pod
                    replica.in_flight += 1  # a replica stopped from now on finishes this request first
                    break
            if time.monotonic() >= deadline and not starting:
                held = self._local_reply(504, REQUEST_TIMED_OUT)
                held.headers[HELD_HEADER] = f"{REQUEST_TIMEOUT_SECONDS:g}"
                return self._count(app, rev, held)
            time.sleep(HOLD_POLL_SECONDS)
        started = time.monotonic()
        try:
            resp = self._forward(req, route.host, pod, port)
        finally:
            with self.p.lock:
                self.svc.kubelet.request_done(replica)
        self._measure(app, rev, replica, req, resp, time.monotonic() - started)
        return self._count(app, rev, resp)

    def _measure(self, app: ContainerApp, rev: Revision | None, replica: Replica, req: Request, resp: Response,
                 seconds: float) -> None:
        """The request's metrics: status, bytes the replica received and sent (head and body), time taken."""
        rx = len(req.method) + len(req.target or req.path) + 12 + len(req.body or b"") + sum(
            len(k) + len(v) + 4 for k, v in req.headers.items())
        body = len(resp.body) if isinstance(resp.body, bytes) else 0
        tx = 17 + body + sum(len(k) + len(v) + 4 for k, v in resp.headers.items())
        self.svc.metrics.request(app.id, rev.name if rev is not None else "", replica.name, resp.status, rx, tx,
                                 seconds * 1000)

    def _count(self, app: ContainerApp, rev: Revision | None, resp: Response) -> Response:
        with self.p.lock:
            key = (rev.name if rev is not None else "", resp.status)
            app.ingress_requests[key] = app.ingress_requests.get(key, 0) + 1
        return resp

    @staticmethod
    def _local_reply(status: int, text: str) -> Response:
        """An answer the edge itself writes (Envoy's local replies: plain text, no trailing newline)."""
        return Response(status, text.encode(), Headers([("Content-Type", "text/plain")]))

    @staticmethod
    def _upstream_headers(req: Request, host: str) -> list[tuple[str, str]]:
        out = [(k, v) for k, v in req.headers.items()
               if k.lower() not in HOP_BY_HOP and k.lower() not in REPLACED]
        forwarded = req.headers.get("X-Forwarded-For")
        client = req.client or "127.0.0.1"
        out.append(("Host", host))
        out.append(("X-Forwarded-For", f"{forwarded}, {client}" if forwarded else client))
        out.append(("X-Forwarded-Proto", "https"))
        if "x-request-id" not in req.headers:
            out.append(("X-Request-Id", str(uuid.uuid4())))
        if req.body or req.method in ("POST", "PUT", "PATCH"):
            out.append(("Content-Length", str(len(req.body))))
        return out

    def _forward(self, req: Request, host: str, pod: Pod | None, port: int) -> Response:
        try:
            if pod is None:
                raise ConnectionRefusedError("the replica stopped")
            sock = pod.connect(port, CONNECT_TIMEOUT)
        except TimeoutError:
            return self._local_reply(503, CONNECT_TIMED_OUT)
        except (OSError, SandboxError):  # refused, or the replica went away meanwhile
            return self._local_reply(503, REFUSED)
        conn = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT)
        conn.sock = sock
        sock.settimeout(UPSTREAM_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client's own connect() does
        try:
            conn.putrequest(req.method, req.target or req.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self._upstream_headers(req, host):
                conn.putheader(name, value)
            conn.endheaders(req.body or None)
            upstream = conn.getresponse()
        except TimeoutError:
            conn.close()
            return self._local_reply(504, REQUEST_TIMED_OUT)
        except (OSError, http.client.HTTPException):
            conn.close()
            return self._local_reply(503, TERMINATED)
        try:
            body = upstream.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            return Response(0)  # reset mid-body: the client's stream is reset too
        finally:
            conn.close()
        headers = Headers()
        for name, value in upstream.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP or (lower == "content-length" and req.method != "HEAD"):
                continue
            previous = headers.get(name)
            headers[name] = f"{previous}, {value}" if previous is not None else value
        return Response(upstream.status, body, headers)

    # for metrics and tests -----------------------------------------------------------------------------
    @staticmethod
    def request_counts(app: ContainerApp) -> dict[str, dict[int, int]]:
        """Requests the edge answered for ``app``: revision → status → count (``""``: no revision chosen)."""
        out: dict[str, dict[int, int]] = {}
        for (revision, status), count in app.ingress_requests.items():
            out.setdefault(revision, {})[status] = count
        return out

