"""Every lab as a user runs it: ``pytest labs/<lab> -q`` one after the other, then ``pytest labs -n 2``.

    python -m benchmarks --only all_labs

Figures: each lab's fast-profile wall time (pytest's start included, median of ``runs``; target <= 5 s
for a lab whose workload really runs, <= 3 s for labs/acr_pull_failure, whose image never starts), and
the whole folder on two pytest-xdist workers against the sum of the serial medians (target: within 60 %
of it). The plugins loaded are a user's (``benchmarks.user_pytest``). The machine's load average before
and after is in every note, with the time of a fixed pure-Python loop (`cpu_reference_ms`): on a shared
machine the walls inflate with either.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import (
    ROOT,
    BenchmarkError,
    ProcessRun,
    cpu_reference_ms,
    figure,
    median,
    run_process,
    user_env,
    user_pytest,
)

GROUP = "all_labs"
TARGETS = {"acr_pull_failure": 3.0}
"""Wall targets (s) other than the default :data:`DEFAULT_TARGET`."""
DEFAULT_TARGET = 5.0


def lab_names() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "labs").glob("*/lab.yaml"))


def _run(*args: str, timeout: float = 300.0) -> ProcessRun:
    proc = run_process(user_pytest(*args, "-q", "-p", "no:cacheprovider"), env=user_env(), timeout=timeout)
    failed = re.search(r"(\d+) (failed|error)", proc.output)
    if proc.returncode != 0 or failed:
        raise BenchmarkError(f"'pytest {' '.join(args)}' exited {proc.returncode}:\n{proc.output[-2000:]}")
    return proc


def failover_azure_seconds(speed: float) -> float:
    """Azure seconds from revision_failover's port flip to its non-Healthy revision, on the realistic clock at
    ``speed`` (real seconds between the two actions' ends in the run's journal, times ``speed``)."""
    with tempfile.TemporaryDirectory(prefix="acalab-bench-") as tmp:
        _run("labs/revision_failover", "--acalab-profile", "realistic", "--acalab-speed", f"{speed:g}",
             "--acalab-report-dir", tmp)
        entries = json.loads((Path(tmp) / "revision_failover" / "journal.json").read_text())["entries"]

    def end_of(action: str) -> float:
        return next(float(e["t"]) for e in entries
                    if e["kind"] == "action" and e["name"] == action and e.get("event") == "end")

    return (end_of("wait-unhealthy") - end_of("break-port")) * speed


def bench(runs: int = 1, labs: tuple[str, ...] | None = None, parallel: bool = True,
          warmup: bool = True, realistic_speed: float | None = 100.0) -> dict[str, Any]:
    if runs < 1:
        raise ValueError(f"need runs >= 1, got {runs}")
    names = list(labs) if labs else lab_names()
    unknown = sorted(set(names) - set(lab_names()))
    if unknown:
        raise ValueError(f"no such lab: {', '.join(unknown)}")
    load_before, reference_before = os.getloadavg()[0], cpu_reference_ms()
    if warmup:
        _run(f"labs/{names[0]}")  # compiles the SDKs' bytecode into the benchmark's cache; not counted
    walls = {name: median([_run(f"labs/{name}").wall for _ in range(runs)]) for name in names}
    serial = sum(walls.values())
    together = None
    if parallel:
        together = median([_run(*(f"labs/{name}" for name in names), "-n", "2", timeout=1800.0).wall
                           for _ in range(runs)])
    reference_after = cpu_reference_ms()
    load = (f"; 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
            f"on {os.cpu_count()} cores; reference loop {reference_before:g} ms before, {reference_after:g} ms after")
    figures = [figure(GROUP, f"lab_wall_fast_{name}", wall, "s", target=TARGETS.get(name, DEFAULT_TARGET),
                      note=f"'pytest labs/{name} -q' in a subprocess, fast profile, pytest start included; "
                           f"median of {runs}{load}")
               for name, wall in walls.items()]
    if together is not None:
        figures.append(figure(GROUP, "all_labs_two_workers_ratio", together / serial, "x", target=0.6,
                              note=f"{len(names)} labs with -n 2: {together:.2f} s (median of {runs}) vs the sum "
                                   f"of their serial medians {serial:.2f} s{load}"))
    if realistic_speed:
        seconds = failover_azure_seconds(realistic_speed)
        figures.append(figure(GROUP, "revision_failover_unhealthy_after_azure_s", seconds, "s", target=420.0,
                              note=f"realistic clock at speed {realistic_speed:g}: Azure seconds from the port flip "
                                   "to the non-Healthy revision (Azure measured 261 s on 2026-06-23; the Guide's "
                                   f"budget is 420 s){load}"))
    met = sum(1 for f in figures if f["met"])
    summary = [f"All {len(names)} labs, fast profile: {met} of {len(figures)} figures meet their targets; "
               f"serial sum {serial:.1f} s" + (f", on two workers {together:.1f} s ({together / serial:.2f} x)"
                                               if together is not None else "")]
    return {"summary": summary, "figures": figures,
            "details": {"cpu_reference_ms": [reference_before, reference_after], "walls_s": walls,
                        "two_workers_s": together, "serial_sum_s": serial}}
