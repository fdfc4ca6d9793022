"""The edge's cost: a GET to an app's fqdn through the emulator's proxy and edge, against the same GET
sent straight to the workload inside its replica's network namespace.

    python -m benchmarks.bench_ingress [--requests 200]

Reported (no target: the edge's cost is a figure to watch, not a promise): median and p90 of both, and
the median overhead the edge adds (TLS end at the edge, routing, a fresh connection into the pod).
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from typing import Any

from benchmarks import BenchmarkError, figure, median, percentile

GROUP = "ingress"
WARMUP = 5
IMAGE = "benchingress.azurecr.io/web:v1"


class _Images:
    """``services.registry`` for the benchmark: one pullable image, the standard library's web server on 8000."""

    def check_pull(self, image: str, auth: Any) -> Any:
        from pytest_acalab.emulator.platform.services import PullResult

        return PullResult(True, digest="sha256:" + "1" * 64, size=1 << 20)

    def fetch(self, image: str) -> Any:
        from pytest_acalab.emulator.platform.services import ImageFiles

        config = {"config": {"Cmd": ["python", "-m", "http.server", "8000"], "WorkingDir": "/app",
                             "Labels": {"org.opencontainers.image.base.name": "python:3.11-slim"}}}
        return ImageFiles("sha256:" + "1" * 64, config, {"app/index.html": (b"benchmark\n", 0o644)})


def bench(requests: int = 200) -> dict[str, Any]:
    import requests as requests_lib
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    from pytest_acalab.emulator import Emulator

    if requests < 1:
        raise ValueError(f"requests must be >= 1, got {requests}")
    emu = Emulator(profile="fast").start()
    try:
        emu.platform.services.registry = _Images()
        kwargs = {**emu.client_kwargs(), "polling_interval": 0}
        ResourceManagementClient(emu.credential(), emu.subscription_id, **kwargs).resource_groups.create_or_update(
            "rg-bench", {"location": "koreacentral"})
        apps = ContainerAppsAPIClient(emu.credential(), emu.subscription_id, **kwargs)
        env = apps.managed_environments.begin_create_or_update("rg-bench", "env-bench", {
            "location": "koreacentral", "properties": {}}).result()
        app = apps.container_apps.begin_create_or_update("rg-bench", "web", {"location": "koreacentral", "properties": {
            "environmentId": env.id,
            "configuration": {"ingress": {"external": True, "targetPort": 8000}},
            "template": {"containers": [{"name": "web", "image": IMAGE, "resources": {"cpu": 0.25, "memory": "0.5Gi"}}],
                         "scale": {"minReplicas": 1, "maxReplicas": 1}}}}).result()
        url = f"https://{app.configuration.ingress.fqdn}/"
        session = requests_lib.Session()
        session.trust_env = False
        proxies = {"https": emu.proxy_url}
        deadline = time.monotonic() + 120
        while session.get(url, proxies=proxies, verify=emu.ca_bundle, timeout=60).status_code != 200:
            if time.monotonic() > deadline:
                raise BenchmarkError("the app never answered 200 through the edge")
        for _ in range(WARMUP):
            session.get(url, proxies=proxies, verify=emu.ca_bundle, timeout=60)
        edge = []
        for _ in range(requests):
            t = time.perf_counter()
            status = session.get(url, proxies=proxies, verify=emu.ca_bundle, timeout=60).status_code
            edge.append((time.perf_counter() - t) * 1000)
            if status != 200:
                raise BenchmarkError(f"the edge answered {status}")
        svc = emu.platform.services.extra["app"]
        model = next(a for a in svc.apps.values() if a.name == "web")
        replica = next(iter(model.revisions[model.latest_revision].serving))
        direct = []
        for _ in range(requests):
            t = time.perf_counter()
            conn = http.client.HTTPConnection("web", 8000, timeout=60)
            conn.sock = replica.pod.connect(8000, 10)
            conn.request("GET", "/")
            answer = conn.getresponse()
            answer.read()
            conn.close()
            direct.append((time.perf_counter() - t) * 1000)
            if answer.status != 200:
                raise BenchmarkError(f"the workload answered {answer.status}")
    finally:
        emu.stop()
    edge_med, direct_med = median(edge), median(direct)
    figures = [
        figure(GROUP, "edge_round_trip_median", edge_med, "ms",
               note=f"requests.get of the app's fqdn through the proxy and the edge (keep-alive), {requests} requests"),
        figure(GROUP, "edge_round_trip_p90", percentile(edge, 90), "ms"),
        figure(GROUP, "direct_to_pod_median", direct_med, "ms",
               note="the same GET over Pod.connect into the replica's namespace, a new connection each time"),
        figure(GROUP, "edge_overhead_median", edge_med - direct_med, "ms",
               note="what the edge adds to the workload's own round trip"),
    ]
    return {
        "summary": [f"GET through the edge: median {edge_med:.2f} ms; straight to the pod: {direct_med:.2f} ms "
                    f"({requests} requests each)"],
        "figures": figures,
        "details": {"requests": requests, "edge_max_ms": round(max(edge), 3), "direct_max_ms": round(max(direct), 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    print(json.dumps(bench(parser.parse_args().requests), indent=2))


if __name__ == "__main__":
    main()
