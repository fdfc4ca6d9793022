"""``http_endpoint``: status codes of N GETs to the app's ingress.

When the host does not resolve or cannot be reached from here the probe is skipped (``ProbeSkipped``),
not failed: the runner's network says nothing about the app. The host is resolved by the request itself
(no separate lookup), so a session from ``http_session`` decides where the bytes go: the one seam tests
use to answer a recorded fqdn from a loopback server. The URL is the app's real fqdn on every backend;
the backend only supplies the session's trust and proxy (``Backend.http_settings``: on the emulator,
its CONNECT proxy routes the fqdn to the emulator's edge, which runs the request on a real replica).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pytest_acalab.context import LabContext
from pytest_acalab.errors import ProbeSkipped
from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.probes.apps import app_field
from pytest_acalab.probes.base import Observation, resource_name
from pytest_acalab.probes.revisions import fetch_app

__all__ = ["HELD_HEADER", "held_seconds", "http_session", "ingress_host", "label_host", "request_statuses"]
DEFAULT_CLIENT_TIMEOUT = 30.0
"""Azure seconds the client waits for an answer when the row does not say (``timeout``)."""
HELD_HEADER = "x-acalab-held-seconds"
"""Set by the emulator's edge on an answer it wrote after holding the request for lack of a ready replica:
how long it held it, in Azure time. Its clock runs the hold faster than real time, so the client's own
timeout cannot be what ends it; the probe compares the two in Azure time instead. Azure never sends it."""
BODY_EXCERPT = 200
BODY_LIMIT = 65536
"""How much of an answer ``contains`` searches."""
"""Characters of the last answer's body the excerpt shows (what the workload said)."""


def ingress_host(app: Mapping[str, Any], via: str = "latest_revision") -> str | None:
    """The host requested: the latest revision's fqdn (default), or with ``via="app"`` the app's own fqdn,
    which follows the traffic split (either falls back on the other when absent)."""
    revision, own = app_field(app, "latestRevisionFqdn"), app_field(app, "configuration.ingress.fqdn")
    return (own or revision) if via == "app" else (revision or own)


def label_host(app: Mapping[str, Any], label: str) -> str | None:
    """A traffic label's own host, ``<app>---<label>.<environment domain>``
    (https://learn.microsoft.com/azure/container-apps/traffic-splitting#use-cases)."""
    own = app_field(app, "configuration.ingress.fqdn")
    if not own or "." not in own:
        return None
    name, _, domain = str(own).partition(".")
    return f"{name}---{label}.{domain}"


def _matches(status: int | None, wanted: Any) -> bool:
    return status in (wanted if isinstance(wanted, list) else [wanted])


def http_session() -> Any:
    """The ``requests`` session the probe's GETs go through (one place to plug a transport in)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    import requests

    return requests.Session()


def _name_not_resolved(exc: BaseException) -> bool:
    """Whether a connection error comes from a failed DNS lookup (urllib3 wraps it a few levels deep)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from urllib3.exceptions import NameResolutionError

    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        cur = todo.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, NameResolutionError | socket.gaierror):
            return True
        linked = (getattr(cur, "reason", None), cur.__cause__, cur.__context__, *cur.args)
        todo.extend(x for x in linked if isinstance(x, BaseException))
    return False


def held_seconds(resp: Any) -> float:
    """Azure seconds the emulator's edge held the request before this answer (0: not held, or from Azure)."""
    try:
        return float(resp.headers.get(HELD_HEADER) or 0.0)
    except ValueError:
        return 0.0


def request_statuses(url: str, count: int, *, verify: Any = True, timeout: float = 10.0,
                     proxies: Mapping[str, str] | None = None, bodies: list[str] | None = None,
                     excerpt: int = BODY_EXCERPT, gives_up_after: float | None = None) -> list[int | None]:
    """Status code of each GET (None for a request that got no answer after connecting, within ``timeout``
    real seconds, or held by the emulator's edge for ``gives_up_after`` Azure seconds or more); the start of
    each answer's body is appended to ``bodies`` when given."""
    # the Azure SDK stack loads when a lab runs, not at collection
    import requests

    out: list[int | None] = []
    with http_session() as session:
        for _ in range(count):
            try:
                resp = session.get(url, verify=verify, timeout=timeout, allow_redirects=False,
                                   proxies=dict(proxies) if proxies else None)
                if gives_up_after is not None and held_seconds(resp) >= gives_up_after:
                    raise requests.Timeout(f"held {resp.headers[HELD_HEADER]} s by the edge")
                out.append(resp.status_code)
                if bodies is not None:
                    bodies.append(resp.text[:excerpt])
            except requests.ConnectionError as exc:
                if _name_not_resolved(exc):
                    raise ProbeSkipped(f"{urlsplit(url).hostname} does not resolve from here ({exc})") from exc
                raise ProbeSkipped(f"{url} is not reachable from here: {exc}") from exc
            except requests.Timeout:
                out.append(None)
                if bodies is not None:
                    bodies.append("")
    return out


def http_endpoint(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    app = fetch_app(ctx, app_name, deadline)
    host = ingress_host(app, str(args.get("via") or "latest_revision"))
    if args.get("label"):
        host = label_host(app, str(args["label"]))
    if not host:
        return Observation([], "http", f"app '{app_name}' has no ingress fqdn: nothing to request")
    url = f"https://{host}{args.get('path') or '/'}"
    if not ctx.backend.reaches(host):
        raise ProbeSkipped(f"{host} is not reachable from the {ctx.backend.name} backend (it serves no such "
                           "host: internal ingress, or a name it does not know; nothing was requested, not "
                           "even a DNS lookup)")
    settings = ctx.backend.http_settings()
    bodies: list[str] = []
    wanted = args.get("contains")
    client_timeout = parse_duration(str(args["timeout"])) if "timeout" in args else DEFAULT_CLIENT_TIMEOUT
    # The client waits for each answer as long as its own timeout says (real seconds with the backend's floor),
    # not just what is left of the check's window: cutting a request short would record "no answer" for a
    # replica that was only slow on a loaded machine, the very answer a lab expecting silence passes on.
    # On the emulator a request the edge held is judged in Azure time instead (HELD_HEADER), so it ends fast.
    statuses = request_statuses(url, int(args.get("requests") or 3),
                                timeout=ctx.backend.scale_wait(client_timeout),
                                verify=settings.get("verify", True), proxies=settings.get("proxies"), bodies=bodies,
                                excerpt=BODY_LIMIT if wanted else BODY_EXCERPT, gives_up_after=client_timeout)
    said = f"; last answer: {bodies[-1][:BODY_EXCERPT]!r}" if bodies and bodies[-1] else ""
    if wanted:
        statuses = [s for s, text in zip(statuses, bodies, strict=True) if str(wanted) in text]
        said += f"; {len(statuses)} contained {wanted!r}"
    if "status" in args:
        kept = [s for s in statuses if _matches(s, args["status"])]
        return Observation(kept, "http", f"GET {url}: {statuses}; answered {args['status']}: {len(kept)}{said}",
                           {"observed": {"HTTP": " ".join(str(code or "timeout") for code in statuses)}})
    return Observation(statuses, "http", f"GET {url}: {statuses}{said}",
                       {"observed": {"HTTP": " ".join(str(code or "timeout") for code in statuses)}})
