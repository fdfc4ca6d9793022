"""The container runtime: what running workloads for real costs.

    python -m benchmarks.bench_runtime [--runs 5]

* ``update_to_ready_overhead``: from an app update (a new revision) to its first ready replica, minus the
  bare start of the same command on this machine (target: <= 300 ms more), fast profile.
* ``idle_replica_rss``: resident memory of one idle replica: its pod supervisor plus the workload.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from typing import Any

from benchmarks import figure, median, verdict

GROUP = "runtime"
PORT = 8000
COMMAND = [sys.executable, "-I", "-m", "http.server"]
"""The image's command as the runtime runs it: a Python without site-packages (its own virtualenv)."""


def _bare_start(port: int) -> float:
    """Seconds from spawning the command to its first accepted connection (on 127.0.0.1 only)."""
    t = time.perf_counter()
    proc = subprocess.Popen([*COMMAND, "--bind", "127.0.0.1", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return time.perf_counter() - t
            if proc.poll() is not None:
                raise RuntimeError(f"the bare command exited {proc.returncode}")
            time.sleep(0.002)
    finally:
        proc.kill()
        proc.wait()


class _Registry:
    """Every image pulls and is the standard library's web server on 8000 (a python:3.11-slim image)."""

    def check_pull(self, image: str, auth: Any) -> Any:
        from pytest_acalab.emulator.platform.services import PullResult

        return PullResult(True, digest="sha256:" + "0" * 64, size=1000)

    def fetch(self, image: str) -> Any:
        from pytest_acalab.emulator.platform.services import ImageFiles

        tag = image.rsplit(":", 1)[-1]
        return ImageFiles("sha256:" + tag.rjust(64, "0"), {"config": {
            "Cmd": ["python", "-m", "http.server", str(PORT)], "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.base.name": "python:3.11-slim"}}}, {})


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        out.append(cur)
        try:
            with open(f"/proc/{cur}/task/{cur}/children") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def bench(runs: int = 5) -> dict[str, Any]:
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    from pytest_acalab.emulator import Emulator
    from pytest_acalab.emulator.runtime.sandbox import live_pod_pids

    bare = [_bare_start(18000 + i) for i in range(runs)]
    emu = Emulator(profile="fast").start()
    emu.platform.services.registry = _Registry()
    try:
        kwargs = emu.client_kwargs()
        apps = ContainerAppsAPIClient(emu.credential(), emu.subscription_id, polling_interval=0, **kwargs)
        rm = ResourceManagementClient(emu.credential(), emu.subscription_id, polling_interval=0, **kwargs)
        rm.resource_groups.create_or_update("rg-bench", {"location": "koreacentral"})
        env = apps.managed_environments.begin_create_or_update("rg-bench", "env", {"location": "koreacentral"}).result()
        body: dict[str, Any] = {"location": "koreacentral", "properties": {
            "environmentId": env.id,
            "configuration": {"activeRevisionsMode": "Single", "ingress": {"external": True, "targetPort": PORT}},
            "template": {"containers": [{"name": "app", "image": "bench.azurecr.io/web:0",
                                         "resources": {"cpu": 0.25, "memory": "0.5Gi"}}],
                         "scale": {"minReplicas": 1, "maxReplicas": 1}}}}
        apps.container_apps.begin_create_or_update("rg-bench", "web", body).result()
        ready_times = []
        for i in range(1, runs + 1):
            body["properties"]["template"]["containers"][0]["image"] = f"bench.azurecr.io/web:{i}"
            t = time.perf_counter()
            app = apps.container_apps.begin_create_or_update("rg-bench", "web", body).result()
            while True:
                rev = apps.container_apps_revisions.get_revision(
                    "rg-bench", "web", app.latest_revision_name,
                    cls=lambda response, _m, _h: response.http_response.json())
                if rev["properties"].get("healthState") == "Healthy":
                    break
                time.sleep(0.002)
            ready_times.append(time.perf_counter() - t)
        pods = live_pod_pids()
        supervisor = [_rss(p) for p in pods]
        workload = [sum(_rss(c) for c in _tree(p)[1:]) for p in pods]
    finally:
        emu.stop()
    bare_ms, ready_ms = median(bare) * 1000, median(ready_times) * 1000
    overhead = ready_ms - bare_ms
    main_fig = figure(GROUP, "update_to_ready_overhead", overhead, "ms", target=300.0,
                      note=f"app update (new revision) to its first ready replica, median of {runs}, minus the bare "
                           f"start of the same command ({bare_ms:.0f} ms), fast profile")
    rss_sup = median(supervisor) / 2**20 if supervisor else None
    rss_work = median(workload) / 2**20 if workload else None
    return {
        "summary": [
            f"Update to first ready replica: {ready_ms:.0f} ms vs bare start {bare_ms:.0f} ms of the same command: "
            f"{overhead:.0f} ms more ({verdict(main_fig)})",
            f"Idle replica memory: pod supervisor {rss_sup or 0:.1f} MB + workload {rss_work or 0:.1f} MB "
            "(python -m http.server)",
        ],
        "figures": [
            main_fig,
            figure(GROUP, "update_to_ready", ready_ms, "ms"),
            figure(GROUP, "bare_process_start", bare_ms, "ms"),
            figure(GROUP, "idle_replica_supervisor_rss", rss_sup, "MB"),
            figure(GROUP, "idle_replica_workload_rss", rss_work, "MB"),
        ],
        "details": {"runs": runs, "ready_ms": [round(x * 1000, 1) for x in ready_times],
                    "bare_ms": [round(x * 1000, 1) for x in bare]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    print(json.dumps(bench(parser.parse_args().runs), indent=2))


if __name__ == "__main__":
    main()
