"""Log Analytics figures through the real LogsQueryClient: query latency over 100,000 system-log rows
and the memory the emulator needs to hold them. Prints one JSON object.

    python benchmarks/bench_logs.py [--rows 100000] [--runs 30]

Target: median latency of the lab query <= 100 ms. ``measure()`` gives the raw figures (what this script
prints); ``bench()`` turns them into the runner's figures (``python -m benchmarks``). This module imports
nothing from the ``benchmarks`` package at load time, so it still runs as a plain script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

REASONS = ("PullingImage", "ContainerTerminated", "PulledImage", "ContainerCreated", "ProbeFailed", "RevisionReady")
QUERIES = {
    "lab": "ContainerAppSystemLogs_CL | where ContainerAppName_s == 'ca-x' and Reason_s in "
           "('PullingImage', 'ContainerTerminated') | summarize count() by Reason_s",
    "latest_20": "ContainerAppSystemLogs_CL | where TimeGenerated > ago(1d) and Log_s contains 'v3' "
                 "| order by TimeGenerated desc | take 20",
    "project_1000": "ContainerAppSystemLogs_CL | where ContainerAppName_s == 'ca-y' "
                    "| project TimeGenerated, Reason_s, Log_s | take 1000",
}


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def trim_heap() -> None:
    """Give freed heap back to the OS (glibc), so the RSS delta counts what is still held."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def batches(total: int, size: int, start: dt.datetime) -> Iterator[list[dict[str, Any]]]:
    apps = ("ca-x", "ca-y", "ca-z", "ca-w")
    for first in range(0, total, size):
        yield [
            {
                "TimeGenerated": start + dt.timedelta(seconds=i * 0.5),
                "ContainerAppName_s": apps[i % 4],
                "Reason_s": REASONS[i % len(REASONS)],
                "Log_s": f"Pulling image 'acr{i % 13}.azurecr.io/app:v{i % 7}'",
                "RevisionName_s": f"app--{i % 50:07d}",
                "ReplicaName_s": f"app--{i % 50:07d}-6648666b47-d98dz",
                "EventSource_s": "ContainerAppController",
                "Type_s": "Normal",
                "Count_d": float(i % 9),
            }
            for i in range(first, min(first + size, total))
        ]


def p90(times: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(times)
    return ordered[max(1, -(-len(ordered) * 9 // 10)) - 1]


def measure(rows: int = 100_000, runs: int = 30) -> dict[str, Any]:
    """Ingest ``rows`` system-log rows into an emulator workspace, then time each query ``runs`` times."""
    from azure.monitor.query import LogsQueryClient

    from pytest_acalab.emulator import Emulator

    with Emulator(profile="fast") as emu:
        sub = f"/subscriptions/{emu.subscription_id}/resourcegroups/rg-bench"
        emu.platform.call("PUT", sub, {"location": "koreacentral"}, "2024-03-01")
        ws = emu.platform.call("PUT", f"{sub}/providers/Microsoft.OperationalInsights/workspaces/ws-bench",
                               {"location": "koreacentral"}, "2023-09-01").payload()
        customer_id = ws["properties"]["customerId"]
        client = LogsQueryClient(emu.credential(), endpoint=emu.logs_endpoint, connection_verify=emu.ca_bundle)
        client.query_workspace(customer_id, "print 1", timespan=None)  # imports, token, first connection
        now = emu.clock.now()
        start = now - dt.timedelta(seconds=rows * 0.5 + 60)
        sink = emu.platform.services.logs
        gc.collect()
        trim_heap()
        rss_before = rss_mb()
        t0 = time.perf_counter()
        for batch in batches(rows, 10_000, start):
            sink.ingest(customer_id, "ContainerAppSystemLogs_CL", batch, start)
        ingest_s = time.perf_counter() - t0
        gc.collect()
        trim_heap()
        rss_after = rss_mb()

        figures: dict[str, Any] = {
            "rows": rows, "runs": runs, "ingest_seconds": round(ingest_s, 3),
            "rss_delta_mb": round(rss_after - rss_before, 1),
            "queries": {},
        }
        for name, query in QUERIES.items():
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                result = client.query_workspace(customer_id, query, timespan=dt.timedelta(days=7))
                times.append(time.perf_counter() - t0)
            figures["queries"][name] = {"median_ms": round(statistics.median(times) * 1000, 1),
                                        "p90_ms": round(p90(times) * 1000, 1),
                                        "rows_returned": len(result.tables[0].rows)}
        figures["target_median_ms"] = 100
        figures["lab_query_within_target"] = figures["queries"]["lab"]["median_ms"] <= 100
    return figures


def bench(rows: int = 100_000, runs: int = 30) -> dict[str, Any]:
    """The runner's entry point: :func:`measure` as figures."""
    from benchmarks import figure, verdict

    raw = measure(rows, runs)
    lab = raw["queries"]["lab"]
    figs = [
        figure("logs", "kql_lab_query_median", lab["median_ms"], "ms", target=100.0,
               note=f"LogsQueryClient.query_workspace over {rows:,} ContainerAppSystemLogs_CL rows "
                    f"(where + in + summarize count() by), {runs} runs"),
        figure("logs", "kql_lab_query_p90", lab["p90_ms"], "ms"),
    ]
    for name in ("latest_20", "project_1000"):
        figs.append(figure("logs", f"kql_{name}_median", raw["queries"][name]["median_ms"], "ms",
                           note=QUERIES[name]))
    figs.append(figure("logs", "emulator_rss_growth", raw["rss_delta_mb"], "MB",
                       note=f"RSS growth of the process holding the emulator after ingesting {rows:,} rows "
                            "(after gc and malloc_trim); reported, no target"))
    figs.append(figure("logs", "ingest", raw["ingest_seconds"], "s", note=f"{rows:,} rows in batches of 10,000"))
    summary = [f"KQL over {rows:,} system-log rows through LogsQueryClient: median {lab['median_ms']:g} ms, p90 "
               f"{lab['p90_ms']:g} ms ({verdict(figs[0])}); the emulator holds the rows in "
               f"{raw['rss_delta_mb']:g} MB more RSS (reported)"]
    return {"summary": summary, "figures": figs, "details": raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(measure(args.rows, args.runs), indent=2))


if __name__ == "__main__":
    main()
