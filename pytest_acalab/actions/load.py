"""``load``: a bounded load generator against an app's ingress (what ``hey`` or a loop of ``curl`` does).

The URL is the app's real fqdn on every backend (``https://<fqdn><path>``), exactly as ``http_endpoint``
requests it: on Azure the request goes to the app; on the emulator the backend's ``http_settings`` route
it through the emulator's loopback CONNECT proxy to its edge, and a host the emulator does not serve is
refused before a single byte is sent. Nothing else is ever contacted.

Bounds: ``concurrency`` workers (at most :data:`MAX_CONCURRENCY`), each sending one request after the
other (closed loop), or paced to ``rate`` requests per second over all workers (open loop, still at most
``concurrency`` in flight); the run stops at ``requests`` sent or after ``duration`` (Azure time, scaled
by the backend's clock with a floor of real seconds), whichever comes first. At least one of the two bounds
is required. The result (``data``) holds the status codes, errors and latency percentiles, for later rows
(``action: <id>`` checks read its status; ``wait_for`` and reports read its data).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pytest_acalab.actions.base import Outcome, resource
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.labfile.model import Action
from pytest_acalab.probes.http import held_seconds

__all__ = ["LoadPlan", "LoadReport", "percentile", "run_load"]

MAX_CONCURRENCY = 200
MAX_REQUESTS = 100_000
MAX_REAL_SECONDS = 600.0
MIN_REAL_SECONDS = 1.0
"""A ``duration`` never runs shorter than this many real seconds (or its own length, if shorter): a real
workload cannot answer thousands of requests in the microseconds the fast clock makes of 90 s."""
REQUEST_TIMEOUT = 30.0
"""Seconds a request may wait for its answer; an answer the emulator's edge held longer (in Azure time,
``probes.http.held_seconds``) counts as a timeout, as it would have in Azure."""
ERROR_PAUSE = 0.05
"""Seconds a closed-loop worker waits after a request that got no answer, so that a refused connection
does not turn the load into a busy loop of failures."""
UNANSWERED_LIMIT = 20
"""A run stops once this many requests (at least, or twice the concurrency) failed before any answer came:
nothing is listening, and more of the same proves nothing."""


@dataclass(frozen=True)
class LoadPlan:
    """How much load, and how it is shaped."""

    concurrency: int = 10
    requests: int | None = None
    seconds: float | None = None
    """Real seconds the load lasts at most."""
    rate: float | None = None
    """Requests per second over all workers (open loop); None: every worker sends as fast as answers come."""
    method: str = "GET"

    def __post_init__(self) -> None:
        if self.requests is None and self.seconds is None:
            raise ValueError("a load needs a bound: 'requests' or 'duration'")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"'concurrency' must be between 1 and {MAX_CONCURRENCY}, got {self.concurrency}")
        if self.requests is not None and not 1 <= self.requests <= MAX_REQUESTS:
            raise ValueError(f"'requests' must be between 1 and {MAX_REQUESTS}, got {self.requests}")
        if self.seconds is not None and not 0 < self.seconds <= MAX_REAL_SECONDS:
            raise ValueError(f"'duration' must last between 0 and {MAX_REAL_SECONDS:g} real seconds")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"'rate' must be positive, got {self.rate}")


@dataclass
class LoadReport:
    """What a load run observed, client side."""

    url: str
    started: datetime
    ended: datetime
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    """Seconds from sending to the whole answer, of every request that got one."""

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    def data(self) -> dict[str, Any]:
        ms = sorted(x * 1000 for x in self.latencies)
        wall = max((self.ended - self.started).total_seconds(), 1e-9)
        return {
            "url": self.url, "started": self.started.isoformat().replace("+00:00", "Z"),
            "ended": self.ended.isoformat().replace("+00:00", "Z"), "requests": self.sent,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors), "throughput_rps": round(self.sent / wall, 2),
            "latency_ms": {"p50": _round(percentile(ms, 50)), "p90": _round(percentile(ms, 90)),
                           "p99": _round(percentile(ms, 99)), "max": _round(ms[-1] if ms else None),
                           "mean": _round(sum(ms) / len(ms) if ms else None)},
        }

    def summary(self) -> str:
        lat = self.data()["latency_ms"]
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "none"
        errors = f"; errors {dict(self.errors)}" if self.errors else ""
        return (f"{self.sent} requests to {self.url}: status {codes}{errors}; latency p50 {lat['p50']} ms, "
                f"p90 {lat['p90']} ms, p99 {lat['p99']} ms")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None for none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def run_load(url: str, plan: LoadPlan, *, verify: Any = True, proxies: Mapping[str, str] | None = None,
             stop: threading.Event | None = None, session_factory: Callable[[], Any] | None = None) -> LoadReport:
    """Send the planned load to ``url`` and report what came back; ``stop`` ends it early."""
    # the Azure SDK stack (requests) loads when a lab runs, not at collection
    import requests

    make_session = session_factory or requests.Session
    lock = threading.Lock()
    report = LoadReport(url, datetime.now(UTC), datetime.now(UTC))
    issued = 0
    t0 = time.monotonic()
    end = t0 + plan.seconds if plan.seconds is not None else math.inf
    halt = stop or threading.Event()

    def next_slot() -> float | None:
        """The time this worker's next request may start, or None when the plan is spent."""
        nonlocal issued
        with lock:
            if halt.is_set() or (plan.requests is not None and issued >= plan.requests):
                return None
            index = issued
            issued += 1
        due = t0 + index / plan.rate if plan.rate else time.monotonic()
        return due if due < end else None

    give_up_after = max(UNANSWERED_LIMIT, 2 * plan.concurrency)

    def worker() -> None:
        with make_session() as session:
            # the emulator's proxy and trust, never the machine's environment; without a proxy (Azure) the
            # machine's own proxy settings are the way out, as they are for the SDK clients
            session.trust_env = not proxies
            while True:
                due = next_slot()
                if due is None or time.monotonic() >= end:
                    return
                wait = due - time.monotonic()
                if wait > 0 and halt.wait(wait):
                    return
                sent = time.monotonic()
                try:
                    resp = session.request(plan.method, url, verify=verify, timeout=REQUEST_TIMEOUT,
                                           allow_redirects=False, proxies=dict(proxies) if proxies else None)
                    resp.content  # noqa: B018 - the whole answer counts in the latency
                    if held_seconds(resp) >= REQUEST_TIMEOUT:
                        raise requests.Timeout("held by the edge past the client's timeout (Azure time)")
                    took = time.monotonic() - sent
                    with lock:
                        report.statuses[resp.status_code] += 1
                        report.latencies.append(took)
                except requests.RequestException as exc:
                    kind = "timeout" if isinstance(exc, requests.Timeout) else type(exc).__name__
                    with lock:
                        report.errors[kind] += 1
                        if not report.statuses and sum(report.errors.values()) >= give_up_after:
                            halt.set()  # nothing answers: more of the same proves nothing
                    if not plan.rate and halt.wait(ERROR_PAUSE):
                        return

    threads = [threading.Thread(target=worker, name=f"acalab-load-{i}", daemon=True)
               for i in range(plan.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.ended = datetime.now(UTC)
    return report


# ---- the action ------------------------------------------------------------------------------------------

def plan_from(args: Mapping[str, Any], scale_seconds: Callable[[float], float]) -> LoadPlan:
    """The plan a lab row asks for (``duration`` in Azure time, turned into real seconds by ``scale_seconds``)."""
    seconds = None
    if args.get("duration") is not None:
        azure = parse_duration(args["duration"])
        seconds = min(max(scale_seconds(azure), min(azure, MIN_REAL_SECONDS)), MAX_REAL_SECONDS)
    rate = float(args["rate"]) if args.get("rate") is not None else None
    requests = int(args["requests"]) if args.get("requests") is not None else None
    concurrency = int(args["concurrency"]) if args.get("concurrency") is not None else 10
    return LoadPlan(concurrency=concurrency, requests=requests, seconds=seconds, rate=rate,
                    method=str(args.get("method") or "GET").upper())


def load(ctx: LabContext, args: Mapping[str, Any], deadline: float, action: Action) -> Outcome:
    # local imports: the probe modules pull the Azure SDK helpers in only when a lab runs
    from pytest_acalab.probes.http import ingress_host
    from pytest_acalab.probes.revisions import fetch_app

    try:
        plan = plan_from(args, ctx.backend.window_seconds)
    except (ValueError, TypeError) as exc:
        raise ActionError(f"load arguments: {exc}") from exc
    app_name = resource(ctx, str(args["app"])).name
    app = fetch_app(ctx, app_name, deadline)
    host = ingress_host(app, str(args.get("via") or "app"))
    if not host:
        raise ActionError(f"app '{app_name}' has no ingress fqdn: there is nothing to load")
    if not ctx.backend.reaches(host):
        raise ActionError(f"{host} is not reachable from the {ctx.backend.name} backend (internal ingress, or a "
                          "name it does not serve): no load was sent")
    settings = ctx.backend.http_settings()
    proxies = settings.get("proxies")
    for proxy in (proxies or {}).values():
        if ctx.backend.name == "emulator" and urlsplit(proxy).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ActionError(f"the emulator's proxy {proxy} is not on loopback: no load was sent")
    url = f"https://{host}{args.get('path') or '/'}"
    report = run_load(url, plan, verify=settings.get("verify", True), proxies=proxies)
    data = report.data()
    if report.sent == 0:
        return Outcome.failed(f"no request could be sent to {url}", **data)
    if not report.statuses:
        return Outcome.failed(f"no request to {url} was answered: {dict(report.errors)}", **data)
    return Outcome.succeeded(report.summary(), **data)
