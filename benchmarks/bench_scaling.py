"""The emulator's overhead per replica under load, and the fast-profile wall time of the scaling labs.

    python -m benchmarks.bench_scaling [--seconds 4] [--replicas 1,4] [--lab-runs 1]

Overhead: an app runs ``k`` replicas (minReplicas = maxReplicas = k) of a small web server; a load
client in a process of its own (``actions.load.run_load``, 20 concurrent clients through the emulator's
proxy and edge) sends GETs for ``seconds`` real seconds. Measured over that window: the CPU time of the
emulator's process (edge, proxy, TLS, supervision ticks, metrics; the client is elsewhere), the CPU time
of the replicas' own processes (read by the pods, as the CpuPercentage metric reads it), the requests
served, and the resident memory of each replica's pod supervisor. Reported per replica and per request.
Then each scaling lab runs once as a user runs it (``pytest labs/<lab> -q``, fast profile). Figures are
reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

from benchmarks import ROOT, BenchmarkError, figure, user_env, user_pytest

GROUP = "scaling"
IMAGE = "benchscaling.azurecr.io/web:v1"
LABS = ("scale_rule_mismatch", "keda_no_metrics_returned", "memory_percentage_vs_keda_utilization",
        "metrics_load_test")
CLIENT = """
import json, sys
from pytest_acalab.actions.load import LoadPlan, run_load
url, proxy, ca, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
report = run_load(url, LoadPlan(concurrency=20, seconds=seconds), verify=ca, proxies={"https": proxy})
print(json.dumps(report.data()))
"""


class _Images:
    """``services.registry`` for the benchmark: the standard library's threaded web server on 8000."""

    def check_pull(self, image: str, auth: Any) -> Any:
        from pytest_acalab.emulator.platform.services import PullResult

        return PullResult(True, digest="sha256:" + "2" * 64, size=1 << 20)

    def fetch(self, image: str) -> Any:
        from pytest_acalab.emulator.platform.services import ImageFiles

        config = {"config": {"Cmd": ["python", "-m", "http.server", "8000"], "WorkingDir": "/app",
                             "Labels": {"org.opencontainers.image.base.name": "python:3.11-slim"}}}
        return ImageFiles("sha256:" + "2" * 64, config, {"app/index.html": (b"benchmark\n", 0o644)})


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def _workload_cpu_ns(replicas: list[Any]) -> int:
    return sum(sum(rep.pod.status().cpu_ns.values()) for rep in replicas if rep.pod is not None)


def _one_size(emu: Any, apps: Any, env_id: str, k: int, seconds: float) -> dict[str, Any]:
    name = f"web{k}"
    app = apps.container_apps.begin_create_or_update("rg-bench", name, {"location": "koreacentral", "properties": {
        "environmentId": env_id, "configuration": {"ingress": {"external": True, "targetPort": 8000}},
        "template": {"containers": [{"name": "web", "image": IMAGE, "resources": {"cpu": 0.25, "memory": "0.5Gi"}}],
                     "scale": {"minReplicas": k, "maxReplicas": k}}}}).result()
    svc = emu.platform.services.extra["app"]
    model = next(a for a in svc.apps.values() if a.name == name)
    deadline = time.monotonic() + 120
    while True:
        with emu.platform.lock:
            emu.platform.scheduler.run_due()
            rev = model.revisions[model.latest_revision]
            ready = [r for r in rev.serving if r.pod is not None]
        if len(ready) == k:
            break
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{k} replicas never became ready")
        time.sleep(0.05)
    url = f"https://{app.configuration.ingress.fqdn}/"
    cpu0, work0, t0 = _cpu_self(), _workload_cpu_ns(ready), time.monotonic()
    proc = subprocess.run([sys.executable, "-c", CLIENT, url, emu.proxy_url, emu.ca_bundle, str(seconds)],
                          cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
    wall, cpu = time.monotonic() - t0, _cpu_self() - cpu0
    work = (_workload_cpu_ns(ready) - work0) / 1e9
    if proc.returncode != 0:
        raise BenchmarkError(f"the load client failed: {proc.stderr[-500:]}")
    report = json.loads(proc.stdout)
    served = report["statuses"].get("200", 0)
    if not served:
        raise BenchmarkError(f"no request answered 200: {report}")
    supervisors = [_rss(rep.pod.process.pid) for rep in ready if rep.pod is not None]
    apps.container_apps.begin_delete("rg-bench", name).result()
    return {"replicas": k, "wall_s": round(wall, 3), "emulator_cpu_s": round(cpu, 3), "workload_cpu_s": round(work, 3),
            "requests": served, "throughput_rps": report["throughput_rps"], "latency_ms": report["latency_ms"],
            "supervisor_rss_mb": round(sum(supervisors) / len(supervisors) / 1e6, 2) if supervisors else None}


def _lab_wall(name: str) -> float:
    t0 = time.monotonic()
    proc = subprocess.run(user_pytest(f"labs/{name}", "-q", "-p", "no:cacheprovider"), env=user_env(),
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise BenchmarkError(f"labs/{name} failed: {proc.stdout[-800:]}")
    return time.monotonic() - t0


def bench(seconds: float = 4.0, replicas: tuple[int, ...] = (1, 4), lab_runs: int = 1) -> dict[str, Any]:
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    from pytest_acalab.emulator import Emulator

    emu = Emulator(profile="fast").start()
    try:
        emu.platform.services.registry = _Images()
        kwargs = {**emu.client_kwargs(), "polling_interval": 0}
        ResourceManagementClient(emu.credential(), emu.subscription_id, **kwargs).resource_groups.create_or_update(
            "rg-bench", {"location": "koreacentral"})
        apps = ContainerAppsAPIClient(emu.credential(), emu.subscription_id, **kwargs)
        env = apps.managed_environments.begin_create_or_update("rg-bench", "env-bench", {
            "location": "koreacentral", "properties": {}}).result()
        sizes = [_one_size(emu, apps, env.id, k, seconds) for k in replicas]
    finally:
        emu.stop()
    figures, summary = [], []
    for size in sizes:
        k = size["replicas"]
        per_replica = size["emulator_cpu_s"] / size["wall_s"] / k
        per_request = size["emulator_cpu_s"] / size["requests"] * 1000
        ratio = size["emulator_cpu_s"] / size["workload_cpu_s"] if size["workload_cpu_s"] else None
        figures += [
            figure(GROUP, f"emulator_cpu_per_replica_under_load_k{k}", per_replica, "cores",
                   note=f"the emulator's CPU (edge, proxy, TLS, supervision, metrics) over the load window, divided "
                        f"by {k} replica(s); 20 concurrent clients in another process"),
            figure(GROUP, f"emulator_cpu_per_request_k{k}", per_request, "ms"),
            figure(GROUP, f"emulator_to_workload_cpu_k{k}", ratio, "x",
                   note="emulator CPU / the replicas' own CPU (as the pods measure it) for the same requests"),
            figure(GROUP, f"supervisor_rss_per_replica_k{k}", size["supervisor_rss_mb"], "MB",
                   note="resident memory of each replica's pod supervisor (the workload's own not counted)"),
        ]
        summary.append(f"{k} replica(s) under load: {size['requests']} requests in {size['wall_s']} s "
                       f"({size['throughput_rps']} req/s, p50 {size['latency_ms']['p50']} ms); emulator "
                       f"{per_replica:.3f} cores per replica, {per_request:.2f} ms CPU per request, "
                       f"{ratio if ratio is None else round(ratio, 2)}x the workload's CPU; supervisor "
                       f"{size['supervisor_rss_mb']} MB per replica")
    labs: dict[str, list[float]] = {}
    for name in LABS if lab_runs > 0 else ():
        labs[name] = [round(_lab_wall(name), 2) for _ in range(lab_runs)]
        best = min(labs[name])
        figures.append(figure(GROUP, f"lab_{name}_fast_wall", best, "s",
                              note=f"pytest labs/{name} -q, fast profile, best of {lab_runs}"))
        summary.append(f"Lab labs/{name}, fast profile: {best:.2f} s wall with pytest's start")
    return {"summary": summary, "figures": figures, "details": {"sizes": sizes, "labs_wall_s": labs,
                                                               "load_seconds": seconds}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--replicas", default="1,4")
    parser.add_argument("--lab-runs", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(bench(args.seconds, tuple(int(x) for x in args.replicas.split(",")), args.lab_runs), indent=2))


if __name__ == "__main__":
    main()
