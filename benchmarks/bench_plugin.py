"""What the plugin adds to pytest's start: ``pytest --version`` with the plugin vs ``-p no:acalab``.

    python -m benchmarks.bench_plugin [--runs 15]

Target: difference of the medians <= 50 ms. pytest (>= 8.1) answers a lone ``--version`` before loading any
plugin, so that command cannot show the plugin's cost; ``--version --version`` loads the configuration
and every plugin (it lists them), so it is the figure the target applies to. Both are measured, interleaved,
after one warm-up run each (bytecode compiled), from the project root.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from benchmarks import ROOT, BenchmarkError, clean_env, figure, median, run_process, verdict

GROUP = "plugin"
VARIANTS = {"version": ["--version"], "version_plugins_loaded": ["--version", "--version"]}


def _times(args: list[str], runs: int) -> tuple[dict[str, list[float]], str]:
    """Interleaved wall times (ms) with and without the plugin, and the last output with it."""
    env = clean_env()
    cmds = {"with": [sys.executable, "-m", "pytest", *args],
            "without": [sys.executable, "-m", "pytest", "-p", "no:acalab", *args]}
    out: dict[str, list[float]] = {"with": [], "without": []}
    text = ""
    for i in range(runs + 1):
        for key, cmd in cmds.items():
            proc = run_process(cmd, env=env, cwd=ROOT, timeout=60)
            if proc.returncode != 0:
                raise BenchmarkError(f"{' '.join(cmd[2:])} exited {proc.returncode}: {proc.output[-500:]}")
            if key == "with" and len(args) > 1 and "pytest-acalab" not in proc.output:
                raise BenchmarkError("pytest --version --version does not list pytest-acalab: is it installed?")
            if i:  # the first round warms the bytecode caches
                out[key].append(proc.wall * 1000)
            if key == "with":
                text = proc.output
    return out, text


def bench(runs: int = 15) -> dict[str, Any]:
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    figs: list[dict[str, Any]] = []
    details: dict[str, Any] = {"runs": runs, "cwd": str(ROOT)}
    for name, args in VARIANTS.items():
        times, output = _times(args, runs)
        if loaded := len(args) > 1:
            details["registered_plugins"] = [line.strip() for line in output.splitlines()
                                             if line.startswith("  ")]
        with_ms, without_ms = median(times["with"]), median(times["without"])
        figs.append(figure(
            GROUP, f"import_cost_{name}", with_ms - without_ms, "ms", target=50.0,
            note=(f"median 'pytest {' '.join(args)}' {with_ms:.0f} ms vs with -p no:acalab {without_ms:.0f} ms "
                  f"({runs} subprocess runs each)"
                  + ("" if loaded else "; pytest answers a lone --version before loading plugins, so this "
                                       "difference is noise: see import_cost_version_plugins_loaded"))))
        details[name] = {"with_ms": [round(t, 1) for t in times["with"]],
                         "without_ms": [round(t, 1) for t in times["without"]],
                         "median_with_ms": round(with_ms, 1), "median_without_ms": round(without_ms, 1)}
    lone, loaded_fig = figs
    summary = [f"Plugin import cost: {loaded_fig['value']:+.0f} ms on 'pytest --version --version' with the plugin "
               f"vs -p no:acalab, medians of {runs} runs ({verdict(loaded_fig)}); a lone 'pytest --version' loads no "
               f"plugin at all ({round(lone['value']) + 0:+d} ms, noise)"]
    return {"summary": summary, "figures": figs, "details": details}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    print(json.dumps(bench(parser.parse_args().runs), indent=2))


if __name__ == "__main__":
    main()
