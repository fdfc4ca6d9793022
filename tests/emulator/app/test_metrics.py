"""Azure Monitor metrics of container apps, read with ``azure-mgmt-monitor`` (what ``az monitor metrics list``
calls) from the emulator, and derived from what the replicas really did: the load changes, the metric follows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from app_helpers import Lab, python_image, wait_until

from pytest_acalab.actions.load import LoadPlan, run_load

BUSY = b'''
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/busy"):
            end = time.process_time() + 0.05
            while time.process_time() < end:
                pass
        status = 404 if self.path.startswith("/missing") else 200
        body = b"x" * 1000
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''
IMAGE = "acrlab.azurecr.io/busy:v1"
CAPTURES = Path(__file__).parents[2] / "contract" / "data"


def same_shape(ours: Any, theirs: Any) -> bool:
    """The same keys at every level (a capture's first list item against each of ours), values aside; the
    capture's ``cost`` differs in value only and ``resourceGroup`` is a CLI addition."""
    if isinstance(theirs, dict):
        wanted = set(theirs) - {"resourceGroup"}
        return isinstance(ours, dict) and set(ours) == wanted and all(same_shape(ours[k], theirs[k]) for k in wanted)
    if isinstance(theirs, list) and theirs:
        return isinstance(ours, list) and bool(ours) and all(same_shape(o, theirs[0]) for o in ours)
    return True


@pytest.fixture
def monitor(lab: Lab) -> Any:
    from azure.mgmt.monitor import MonitorManagementClient

    return MonitorManagementClient(lab.emu.credential(), lab.emu.subscription_id, **lab.emu.client_kwargs())


@pytest.fixture
def busy(lab: Lab) -> tuple[Lab, Any, str]:
    lab.registry.content[IMAGE] = python_image(["python", "server.py"], {"server.py": BUSY})
    app = lab.create("busy", IMAGE)
    lab.revision_when("busy", app.latest_revision_name, lambda r: r.health_state == "Healthy", "healthy")
    return lab, app, app.configuration.ingress.fqdn


def load(lab: Lab, fqdn: str, path: str, requests: int, concurrency: int = 5) -> None:
    report = run_load(f"https://{fqdn}{path}", LoadPlan(concurrency=concurrency, requests=requests),
                      verify=lab.emu.ca_bundle, proxies={"https": lab.emu.proxy_url})
    assert report.sent == requests and not report.errors, report.summary()


def window() -> str:
    now = datetime.now(UTC)
    return f"{(now - timedelta(minutes=30)).strftime('%Y-%m-%dT%H:%M:%SZ')}/" \
           f"{(now + timedelta(minutes=2)).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def points(result: Any, aggregation: str) -> list[float]:
    return [getattr(p, aggregation) for m in result.value for ts in m.timeseries for p in ts.data
            if getattr(p, aggregation) is not None]


def test_requests_by_status_code_count_what_the_edge_answered(busy: tuple[Lab, Any, str], monitor: Any) -> None:
    lab, app, fqdn = busy
    before = monitor.metrics.list(app.id, timespan=window(), interval=timedelta(minutes=1), metricnames="Requests",
                                  aggregation="Total")
    assert sum(points(before, "total")) == 0
    assert before.value[0].unit == "Count" and before.value[0].name.value == "Requests"
    load(lab, fqdn, "/", 30)
    load(lab, fqdn, "/missing", 7)
    split = monitor.metrics.list(app.id, timespan=window(), interval=timedelta(minutes=1), metricnames="Requests",
                                 aggregation="Total", filter="statusCode eq '*'")
    by_code = {ts.metadatavalues[0].value: sum(p.total or 0 for p in ts.data) for ts in split.value[0].timeseries}
    assert by_code == {"200": 30, "404": 7}
    raw = monitor.metrics.list(app.id, timespan=window(), interval=timedelta(minutes=1), metricnames="Requests",
                               aggregation="Total", filter="statusCode eq '*'",
                               cls=lambda response, _model, _headers: json.loads(response.http_response.text()))
    captured = json.loads((CAPTURES / "metrics-load-test-17-metrics-requests-split-status-code.json").read_text())
    assert same_shape(raw, captured)
    only_2xx = monitor.metrics.list(app.id, timespan=window(), interval=timedelta(minutes=1),
                                    metricnames="Requests", aggregation="Total", filter="statusCodeCategory eq '2xx'")
    assert sum(points(only_2xx, "total")) == 30
    traffic = monitor.metrics.list(app.id, timespan=window(), interval=timedelta(minutes=1),
                                   metricnames="RxBytes,TxBytes", aggregation="Total")
    rx, tx = (sum(p.total or 0 for ts in m.timeseries for p in ts.data) for m in traffic.value)
    assert tx >= 37 * 1000 and rx > 0


def test_cpu_follows_the_load_and_memory_is_the_replicas_resident_set(busy: tuple[Lab, Any, str],
                                                                     monitor: Any) -> None:
    lab, app, fqdn = busy

    def peaks(metric: str, since: datetime) -> list[float]:
        span = f"{since.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}/{(datetime.now(UTC) + timedelta(minutes=2)).isoformat()}"
        return points(monitor.metrics.list(app.id, timespan=span, metricnames=metric, aggregation="Maximum"),
                      "maximum")

    started = datetime.now(UTC)
    # two one-minute buckets: up to a minute of wall clock until the next boundary, plus the readings' delay
    # on a loaded machine (a 60 s bound failed when the test started in the first seconds of a minute)
    idle = wait_until(lambda: len(peaks("UsageNanoCores", started)) >= 2 and peaks("UsageNanoCores", started),
                      "CPU readings of the idle replica", 180)
    idle_cores = min(idle) / 1e9  # the quietest reading: the first may still hold the process's start-up
    memory = max(peaks("WorkingSetBytes", started))
    assert 5_000_000 < memory < 500_000_000  # a Python process's resident set, measured
    loaded = datetime.now(UTC)
    # CPU-bound requests until a reading covers them: the metric rises with the load
    wait_until(lambda: load(lab, fqdn, "/busy", 20, concurrency=4) or max(
        peaks("UsageNanoCores", loaded), default=0.0) / 1e9 > max(0.02, 2 * idle_cores), "CPU under load", 120)
    assert max(peaks("CpuPercentage", loaded)) > 10  # of the 0.25 core the template gives the container
    assert 0 < max(peaks("MemoryPercentage", started)) < 100
    assert max(peaks("Replicas", started)) == 1
    assert max(peaks("RestartCount", started)) == 0


def test_definitions_and_bad_queries(busy: tuple[Lab, Any, str], monitor: Any) -> None:
    from azure.core.exceptions import HttpResponseError

    _, app, _ = busy
    names = {d.name.value: d for d in monitor.metric_definitions.list(app.id)}
    assert {"Replicas", "Requests", "RestartCount", "CpuPercentage", "UsageNanoCores", "MemoryPercentage",
            "WorkingSetBytes", "RxBytes", "TxBytes"} <= set(names)
    assert names["Requests"].primary_aggregation_type == "Total"
    with pytest.raises(HttpResponseError) as bad:
        monitor.metrics.list(app.id, metricnames="NoSuchMetric")
    assert "Failed to find metric configuration" in str(bad.value) and "NoSuchMetric" in str(bad.value)
    with pytest.raises(HttpResponseError) as dim:
        monitor.metrics.list(app.id, metricnames="Requests", filter="colour eq 'red'")
    assert "Dimension 'colour' is not valid" in str(dim.value)
