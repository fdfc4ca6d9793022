"""Load on the emulator's HTTPS layer: 10, 50 and 200 concurrent clients, throughput, p50/p99, errors.

    python -m benchmarks.bench_load [--total 2000] [--levels 10,50,200]

The emulator runs in its own process (``acalab emulator serve``), so the clients' threads do not share
its interpreter. Each client is a thread with its own keep-alive HTTPS session; all start together
(every client's first request also opens its connection: the burst of connects is part of the figure)
and each sends ``total / clients`` GETs of one resource group. Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import BenchmarkError, figure, percentile

GROUP = "load"


def _start_emulator(folder: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    from pytest_acalab.emulator.connect import read_exports

    env_file = folder / "acalab.env"
    proc = subprocess.Popen([sys.executable, "-m", "pytest_acalab.cli", "emulator", "serve", "--env-file",
                             str(env_file)], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not env_file.exists() or "ACALAB_EMULATOR_URL" not in env_file.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise BenchmarkError(f"the emulator did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.05)
    return proc, read_exports(env_file.read_text())


def _level(url: str, ca: str, token: str, path: str, clients: int, per_client: int) -> dict[str, Any]:
    import requests

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        mine: list[float] = []
        failed: list[str] = []
        start.wait()
        for _ in range(per_client):
            t = time.perf_counter()
            try:
                resp = session.get(url + path, verify=ca, timeout=60)
                if resp.status_code != 200:
                    failed.append(f"HTTP {resp.status_code}")
                    continue
            except requests.RequestException as exc:
                failed.append(type(exc).__name__)
                continue
            mine.append((time.perf_counter() - t) * 1000)
        session.close()
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": clients * per_client, "ok": len(latencies), "errors": len(errors),
            "error_kinds": sorted(set(errors)), "wall_s": round(wall, 3),
            "throughput_rps": round(len(latencies) / wall, 1) if wall else None,
            "p50_ms": round(percentile(latencies, 50), 2) if latencies else None,
            "p99_ms": round(percentile(latencies, 99), 2) if latencies else None}


def bench(total: int = 2000, levels: tuple[int, ...] = (10, 50, 200)) -> dict[str, Any]:
    import requests

    if total < 1 or not levels:
        raise ValueError("total must be >= 1 and levels non-empty")
    with tempfile.TemporaryDirectory(prefix="acalab-load-") as tmp:
        proc, env = _start_emulator(Path(tmp))
        try:
            url, ca = env["ACALAB_EMULATOR_URL"].rstrip("/"), env["ACALAB_EMULATOR_CA_BUNDLE"]
            token = requests.post(f"{url}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token", verify=ca, timeout=60, data={
                "grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                "client_secret": env["AZURE_CLIENT_SECRET"],
                "scope": "https://management.azure.com/.default"}).json()["access_token"]
            path = f"/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourcegroups/rg-load?api-version=2024-03-01"
            created = requests.put(url + path, json={"location": "koreacentral"}, verify=ca, timeout=60,
                                   headers={"Authorization": f"Bearer {token}"})
            if created.status_code not in (200, 201):
                raise BenchmarkError(f"could not create the group: {created.status_code} {created.text[:200]}")
            results = [_level(url, ca, token, path, n, max(total // n, 5)) for n in levels]
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    figures = []
    summary = []
    for r in results:
        n = r["clients"]
        figures += [figure(GROUP, f"throughput_{n}_clients", r["throughput_rps"], "req/s",
                           note=f"{r['requests']} GETs of a resource group over keep-alive HTTPS, {n} clients"),
                    figure(GROUP, f"p50_{n}_clients", r["p50_ms"], "ms"),
                    figure(GROUP, f"p99_{n}_clients", r["p99_ms"], "ms"),
                    figure(GROUP, f"errors_{n}_clients", r["errors"], "requests", target=0,
                           note=", ".join(r["error_kinds"]) or "none")]
        summary.append(f"{n} clients: {r['throughput_rps']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                       f"{r['errors']} errors of {r['requests']}")
    return {"summary": ["Emulator under load (GET resource group, keep-alive HTTPS, emulator in its own process): "
                        + "; ".join(summary)],
            "figures": figures, "details": {"levels": results, "cores": os.cpu_count()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total", type=int, default=2000)
    parser.add_argument("--levels", default="10,50,200")
    args = parser.parse_args()
    print(json.dumps(bench(args.total, tuple(int(x) for x in args.levels.split(","))), indent=2))


if __name__ == "__main__":
    main()
