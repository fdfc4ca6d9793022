"""The registry-credential labs as a user runs them: ``pytest labs/<lab> -q`` in a subprocess, fast profile.

    python -m benchmarks --only credential_labs

Figures: each lab's wall time (pytest's start included, median of ``runs``; target <= 5 s, a lab with a
running workload), and both labs together on two pytest-xdist workers against the sum of their serial
medians (target: within 60 % of it).
"""

from __future__ import annotations

import os
from typing import Any

from benchmarks import BenchmarkError, ProcessRun, figure, median, run_process, user_env, user_pytest

GROUP = "credential_labs"
LABS = {"acr_admin_disabled": 11, "acr_password_regenerated": 11}
"""lab -> items that pass (the deployment and two per row)."""


def _run(*args: str) -> ProcessRun:

    proc = run_process(user_pytest(*args, "-q", "-p", "no:cacheprovider"), env=user_env(),
                       timeout=300.0)
    if proc.returncode != 0:
        raise BenchmarkError(f"'pytest {' '.join(args)}' exited {proc.returncode}:\n{proc.output[-2000:]}")
    return proc


def bench(runs: int = 3, warmup: bool = True) -> dict[str, Any]:
    if runs < 1:
        raise ValueError(f"need runs >= 1, got {runs}")
    load_before = os.getloadavg()[0]
    if warmup:
        _run(f"labs/{next(iter(LABS))}")  # compiles the SDKs' bytecode into the benchmark's cache; not counted
    walls = {lab: median([_run(f"labs/{lab}").wall for _ in range(runs)]) for lab in LABS}
    together = median([_run(*(f"labs/{lab}" for lab in LABS), "-n", "2").wall for _ in range(runs)])
    serial = sum(walls.values())
    load = f"; 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores"
    figures = [figure(GROUP, f"{lab}_wall_fast", wall, "s", target=5.0,
                      note=f"'pytest labs/{lab} -q' in a subprocess, fast profile, pytest start included; median "
                           f"of {runs}; {LABS[lab]} items, the workload really running{load}")
               for lab, wall in walls.items()]
    figures.append(figure(GROUP, "credential_labs_two_workers_ratio", together / serial, "x", target=0.6,
                          note=f"both labs with -n 2: {together:.2f} s (median of {runs}) vs the sum of their "
                               f"serial medians {serial:.2f} s{load}"))
    return {"figures": figures, "details": {"walls_s": walls, "two_workers_s": together, "serial_sum_s": serial}}
