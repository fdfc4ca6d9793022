"""The identity and secrets labs as a user runs them: ``pytest labs/<lab> -q`` in a subprocess, fast profile.

    python -m benchmarks.bench_identity_labs [--runs 3]

Figure per lab: wall time (pytest's start included; median of the runs, after one warm-up run that builds
the workload's Python environment once, as any second run on a machine finds it cached) and the peak RSS
of the pytest process, which hosts the emulator and the replicas' supervisors' parent. Reported, no target:
a replica runs a real gunicorn with the Azure SDKs, whose start dominates.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks import BenchmarkError, figure, median, run_process, user_env, user_pytest, verdict

GROUP = "identity_labs"
LABS = {"managed_identity_key_vault_failure": 9, "cd_reconnect_rbac_conflict": 5, "diagnostic_settings_missing": 9,
        "appinsights_connection_string_missing": 9, "observability_tracing": 9}
"""Lab folder -> items it passes (2 per hypothesis row and the deployment and cleanup items)."""


def _run(lab: str, expected: int) -> tuple[float, float]:
    proc = run_process(user_pytest(f"labs/{lab}", "-q", "-p", "no:cacheprovider"),
                       env=user_env(), timeout=600.0)
    if proc.returncode != 0 or f"{expected} passed" not in proc.output:
        raise BenchmarkError(f"labs/{lab} did not pass ({proc.returncode}): {proc.output[-600:]}")
    return proc.wall, proc.max_rss_mb


def bench(runs: int = 3, warmup: bool = True) -> dict[str, Any]:
    figures, details = [], {}
    for lab, expected in LABS.items():
        if warmup:
            _run(lab, expected)
        walls, rss = [], []
        for _ in range(runs):
            wall, peak = _run(lab, expected)
            walls.append(wall)
            rss.append(peak)
        figures.append(figure(GROUP, f"{lab}_wall_fast", round(median(walls), 2), "s",
                              note=f"median of {runs} runs of 'pytest labs/{lab} -q', fast profile"))
        figures.append(figure(GROUP, f"{lab}_peak_rss_fast", round(max(rss), 1), "MB",
                              note="peak RSS of the pytest process over the runs"))
        details[lab] = {"walls_s": [round(w, 2) for w in walls], "peak_rss_mb": rss}
    summary = [f"Lab labs/{lab}, fast profile: {f['value']:g} {f['unit']} ({verdict(f)})"
               for lab in LABS for f in figures if f["name"] == f"{lab}_wall_fast"]
    return {"figures": figures, "details": details, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    print(json.dumps(bench(parser.parse_args().runs), indent=2))


if __name__ == "__main__":
    main()
