"""``http_endpoint``: status codes of N GETs to the app's ingress.

When the host does not resolve or cannot be reached from here the probe is skipped (``ProbeSkipped``),
not failed: the runner's network says nothing about the app (the emulator's fqdns never route).
The host is resolved by the request itself (no separate lookup), so a session from ``http_session``
decides where the bytes go: the one seam tests use to answer a recorded fqdn from a loopback server.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pytest_acalab.context import LabContext
from pytest_acalab.errors import ProbeSkipped
from pytest_acalab.probes.apps import app_field
from pytest_acalab.probes.base import Observation, resource_name
from pytest_acalab.probes.revisions import fetch_app

__all__ = ["http_session", "ingress_host", "request_statuses"]


def ingress_host(app: Mapping[str, Any]) -> str | None:
    return app_field(app, "latestRevisionFqdn") or app_field(app, "configuration.ingress.fqdn")


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


def request_statuses(url: str, count: int, *, verify: Any = True, timeout: float = 10.0) -> list[int | None]:
    """Status code of each GET (None for a request that got no answer after connecting)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    import requests

    out: list[int | None] = []
    with http_session() as session:
        for _ in range(count):
            try:
                out.append(session.get(url, verify=verify, timeout=timeout, allow_redirects=False).status_code)
            except requests.ConnectionError as exc:
                if _name_not_resolved(exc):
                    raise ProbeSkipped(f"{urlsplit(url).hostname} does not resolve from here ({exc})") from exc
                raise ProbeSkipped(f"{url} is not reachable from here: {exc}") from exc
            except requests.Timeout:
                out.append(None)
    return out


def http_endpoint(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    app = fetch_app(ctx, app_name, deadline)
    host = ingress_host(app)
    if not host:
        return Observation([], "http", f"app '{app_name}' has no ingress fqdn: nothing to request")
    url = f"https://{host}{args.get('path') or '/'}"
    if not ctx.backend.reaches(host):
        raise ProbeSkipped(f"{host} is not reachable from the {ctx.backend.name} backend (it runs no workload; "
                           "nothing was requested, not even a DNS lookup)")
    statuses = request_statuses(url, int(args.get("requests") or 3), timeout=min(max(deadline, 1.0), 30.0))
    return Observation(statuses, "http", f"GET {url}: {statuses}")
