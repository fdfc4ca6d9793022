"""Manual perf check, not a test: 100k ContainerAppSystemLogs_CL rows, median of 30 runs per query.

Run: python tests/emulator/operationalinsights/perf_query.py
"""

import datetime as dt
import os
import random
import statistics
import time

from pytest_acalab.emulator.operationalinsights.logstore import WorkspaceLogs
from pytest_acalab.emulator.operationalinsights.query import run_query


def rss():
    return int(open(f"/proc/{os.getpid()}/status").read().split("VmRSS:")[1].split()[0]) // 1024


r0 = rss()
w = WorkspaceLogs("00000000-0000-0000-0000-000000000001")
reasons = ["PullingImage", "ContainerTerminated", "PulledImage", "ContainerCreated", "ProbeFailed", "RevisionReady"]
base = dt.datetime(2026, 6, 29, tzinfo=dt.UTC)
rows = [
    {
        "TimeGenerated": base + dt.timedelta(seconds=i),
        "ContainerAppName_s": random.choice(["x", "y", "z", "w"]),
        "Reason_s": random.choice(reasons),
        "Log_s": f"Pulling image 'acr{i % 13}.azurecr.io/app:v{i % 7}'",
        "RevisionName_s": f"app--{i % 50:07d}",
        "ReplicaName_s": f"app--{i % 50:07d}-6648666b47-d98dz",
        "EventSource_s": "ContainerAppController",
        "Type_s": "Normal",
        "Count_d": float(i % 9),
    }
    for i in range(100_000)
]
t0 = time.perf_counter()
for k in range(0, len(rows), 10_000):
    w.ingest("ContainerAppSystemLogs_CL", rows[k : k + 10_000], visible_at=base)
print(f"ingest 100k rows: {time.perf_counter() - t0:.2f} s")
del rows
with w.snapshot(base) as con:
    print("DuckDB memory for the table:", con.sql("SELECT memory_usage FROM pragma_database_size()").fetchall()[0][0])
print(f"process RSS growth, incl. the 100k Python dicts built for the test: {rss() - r0} MB")
now = base + dt.timedelta(days=2)
queries = {
    "lab": "ContainerAppSystemLogs_CL | where ContainerAppName_s == 'x'"
    " and Reason_s in ('PullingImage','ContainerTerminated') | summarize count() by Reason_s",
    "ago+contains+order+take": "ContainerAppSystemLogs_CL | where TimeGenerated > ago(1d)"
    " and Log_s contains 'v3' | order by TimeGenerated desc | take 20",
    "project 1000 rows": "ContainerAppSystemLogs_CL | where ContainerAppName_s == 'y'"
    " | project TimeGenerated, Reason_s, Log_s | take 1000",
}
for name, q in queries.items():
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        body = run_query(w, q, "P7D", now)
        times.append(time.perf_counter() - t0)
    print(f"{name}: median {statistics.median(times) * 1000:.1f} ms, rows {len(body['tables'][0]['rows'])}")
