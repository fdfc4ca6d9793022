"""Speed and memory figures of pytest-acalab and its emulator (``python -m benchmarks``, ``nox -s bench``).

Each group module has a ``bench(**sizes) -> dict`` returning ``{"figures": [...], "details": {...}}`` and
optionally ``"summary"`` (a few human lines; by default one line per figure); a figure is a plain dict
made by :func:`figure` (value, unit, target, whether it met it). The runner
(``__main__``) runs the groups, prints a table and writes ``benchmarks/results.json``.

Benchmarks measure; they never assert. A figure that misses its target is reported, not raised.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import importlib
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"

GROUPS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # name: (module, full sizes, smoke sizes)
    "platform": ("benchmarks.bench_platform", {"calls": 200}, {"calls": 3}),
    "registry": ("benchmarks.bench_registry", {"context_bytes": 1 << 20, "builds": 3},
                 {"context_bytes": 16 << 10, "builds": 1}),
    "logs": ("benchmarks.bench_logs", {"rows": 100_000, "runs": 30}, {"rows": 1_000, "runs": 3}),
    "plugin": ("benchmarks.bench_plugin", {"runs": 15}, {"runs": 1}),
    "ingress": ("benchmarks.bench_ingress", {"requests": 200}, {"requests": 3}),
    "runtime": ("benchmarks.bench_runtime", {"runs": 5}, {"runs": 1}),
    "load": ("benchmarks.bench_load", {"total": 2000, "levels": (10, 50, 200)}, {"total": 40, "levels": (2, 4)}),
    "labs": ("benchmarks.bench_labs", {"fast_runs": 3, "realistic_runs": 3, "speed": 100.0, "standalone_runs": 1},
             {"fast_runs": 1, "realistic_runs": 1, "speed": 1000.0, "standalone_runs": 0, "warmup": False,
              "lab_runs": 1, "guide_labs": ("ingress_target_port_mismatch",)}),
    "fidelity": ("benchmarks.bench_fidelity", {}, {"cassettes": 1}),
    "identity_labs": ("benchmarks.bench_identity_labs", {"runs": 3}, {"runs": 1, "warmup": False}),
    "credential_labs": ("benchmarks.bench_credential_labs", {"runs": 3}, {"runs": 1, "warmup": False}),
    "scaling": ("benchmarks.bench_scaling", {"seconds": 4.0, "replicas": (1, 4), "lab_runs": 1},
                {"seconds": 1.0, "replicas": (1,), "lab_runs": 0}),
    "all_labs": ("benchmarks.bench_all_labs", {"runs": 3},
                 {"runs": 1, "labs": ("acr_tag_deleted",), "parallel": False, "warmup": False,
                  "realistic_speed": None}),
}

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda value, target: value <= target,
    ">=": lambda value, target: value >= target,
}


class BenchmarkError(RuntimeError):
    """A benchmark could not produce its figure (setup failed, a subprocess failed, a record is missing)."""


# ---- figures ---------------------------------------------------------------------------------------------
def figure(group: str, name: str, value: float | None, unit: str, *, target: float | None = None,
           op: str = "<=", target_text: str | None = None, met: bool | None = None,
           note: str = "") -> dict[str, Any]:
    """One measured figure. ``met`` is computed from ``target`` and ``op`` unless given (for composite
    targets such as "overhead <= 10 % + 1 s"); figures without a target have ``met: None``."""
    if op not in COMPARATORS:
        raise ValueError(f"figure {group}/{name}: unknown comparison {op!r}; expected one of {sorted(COMPARATORS)}")
    if value is not None and (not isinstance(value, int | float) or math.isnan(value)):
        raise ValueError(f"figure {group}/{name}: value must be a number, got {value!r}")
    if met is None and target is not None and value is not None:
        met = COMPARATORS[op](value, target)
    if target_text is None and target is not None:
        target_text = f"{op} {target:g} {unit}"
    return {"group": group, "name": name, "value": None if value is None else round(float(value), 3) + 0.0,
            "unit": unit, "target": target_text, "target_value": target, "met": met, "note": note}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of an empty sequence")
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def verdict(fig: Mapping[str, Any]) -> str:
    """``target <= 5 ms: met`` (or ``MISSED``); ``no target`` for figures that are only reported."""
    if not fig["target"]:
        return "no target"
    return f"target {fig['target']}: {'met' if fig['met'] else 'MISSED'}"


def summary_line(fig: Mapping[str, Any]) -> str:
    value = "n/a" if fig["value"] is None else f"{fig['value']:g}"
    return f"{fig['group']}: {fig['name']} = {value} {fig['unit']} ({verdict(fig)})"


# ---- machine --------------------------------------------------------------------------------------------
def cpu_reference_ms() -> float:
    """Milliseconds this machine takes right now for a fixed pure-Python loop (best of three): the speed a
    figure was measured at. A shared 2-core VM varies by up to 2x from minute to minute, so wall-time figures
    are only comparable next to it."""
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 1)


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cores": os.cpu_count(), "usable_cores": usable, "cpu": cpu,
        "python": platform.python_version(), "implementation": platform.python_implementation(),
        "os": platform.platform(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bytecode": "subprocesses run with a warm private bytecode cache (PYTHONPYCACHEPREFIX); the calling "
                    f"environment's PYTHONDONTWRITEBYTECODE: {os.environ.get('PYTHONDONTWRITEBYTECODE')!r}",
    }


# ---- subprocesses ---------------------------------------------------------------------------------------
@dataclass
class ProcessRun:
    wall: float
    """Seconds from spawn to exit."""
    returncode: int
    max_rss_mb: float
    """Peak resident memory of the child (see :func:`run_process`)."""
    output: str
    rss_source: str


GNU_TIME = "/usr/bin/time"


@functools.cache
def _has_gnu_time() -> bool:
    try:
        out = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return "GNU" in out.stdout + out.stderr


def run_process(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path = ROOT,
                timeout: float = 120.0) -> ProcessRun:
    """Run ``cmd``, returning its wall time, exit code, peak RSS and combined output.

    The peak RSS comes from GNU ``/usr/bin/time -f %M`` when present: a child forked straight from the
    benchmark would inherit the benchmark's own high-water mark until it execs, and ``ru_maxrss`` keeps it.
    Without GNU time it is ``os.wait4``'s rusage of the child (an upper bound)."""
    with tempfile.TemporaryDirectory(prefix="acalab-bench-") as tmp:
        rss_file = Path(tmp) / "rss"
        gnu_time = _has_gnu_time()
        wrapped = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd] if gnu_time else list(cmd)
        with open(Path(tmp) / "out", "w+b") as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen(wrapped, cwd=cwd, env=dict(env) if env is not None else None,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            killer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
            killer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                killer.cancel()
            if killer.finished.is_set() and time.perf_counter() - t0 >= timeout:
                raise BenchmarkError(f"{' '.join(cmd)} did not finish within {timeout:g} s (killed)")
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        rss_kb, source = float(usage.ru_maxrss), "wait4 ru_maxrss (upper bound)"
        if gnu_time:
            lines = rss_file.read_text().strip().splitlines() if rss_file.exists() else []
            if lines and lines[-1].isdigit():  # GNU time adds a "Command exited ..." line on failure
                rss_kb, source = float(lines[-1]), "GNU time %M"
    return ProcessRun(wall, proc.returncode, rss_kb / 1024, text, source)

_PYCACHE: list[str] = []
PYCACHE_VAR = "BENCH_PYCACHE_DIR"


def pycache_dir() -> str:
    """A private bytecode cache for the benchmark's subprocesses (removed at exit).

    Subprocesses run with warm bytecode, as an installed package normally does, even where the environment
    sets ``PYTHONDONTWRITEBYTECODE``; the cache goes to a temporary ``PYTHONPYCACHEPREFIX`` so neither the
    working tree nor site-packages gets ``__pycache__`` folders. Each measurement starts with a warm-up run."""
    if not _PYCACHE:
        path = os.environ.get(PYCACHE_VAR)  # set by the runner for the groups it runs in subprocesses
        if not path:
            path = tempfile.mkdtemp(prefix="acalab-bench-pycache-")
            atexit.register(shutil.rmtree, path, ignore_errors=True)
        _PYCACHE.append(path)
    return _PYCACHE[0]


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment for a subprocess: nothing that would attach a lab run to another emulator or
    to Azure, no inherited pytest options, and a warm private bytecode cache (:func:`pycache_dir`)."""
    drop = ("ACALAB_", "AZURE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env["PYTHONPYCACHEPREFIX"] = pycache_dir()
    env.update(extra)
    return env


USER_PLUGINS = ("pytest_acalab.plugin", "xdist.plugin")
"""The pytest plugins of a user's install (pytest-acalab, and pytest-xdist for ``-n``): the lab runs measured here
load these alone, not the project's test extras (hypothesis' plugin imports hypothesis at every run's end,
pytest-benchmark's its storage), which are not the plugin's cost and which users do not have."""


def user_pytest(*args: str) -> list[str]:
    """``python -m pytest <args>`` with the plugins of a user's install only (run it with :func:`user_env`)."""
    plugins = [arg for name in USER_PLUGINS for arg in ("-p", name)]
    return [sys.executable, "-m", "pytest", *plugins, *args]


def user_env(**extra: str) -> dict[str, str]:
    """:func:`clean_env` without plugin autoloading (the plugins come from :func:`user_pytest`)."""
    return clean_env(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **extra)


# ---- running groups -------------------------------------------------------------------------------------
def run_group(name: str, **sizes: Any) -> dict[str, Any]:
    """Run one group with its full sizes, overridden by ``sizes``; an exception becomes an ``error`` entry
    (the other groups still run)."""
    if name not in GROUPS:
        raise ValueError(f"unknown benchmark group {name!r}; expected one of {', '.join(GROUPS)}")
    module_name, defaults, _ = GROUPS[name]
    args = {**defaults, **sizes}
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
        out = module.bench(**args)
        error = None
    except Exception as exc:  # noqa: BLE001 - reported in results.json; the run goes on
        out, error = {"figures": [], "details": {}}, f"{type(exc).__name__}: {exc}"
    figures = out["figures"]
    return {"group": name, "sizes": args, "seconds": round(time.perf_counter() - t0, 2), "error": error,
            "summary": out.get("summary") or [summary_line(f) for f in figures], "figures": figures,
            "details": out["details"]}


def build_document(groups: Sequence[Mapping[str, Any]], *, quick: bool = False,
                   started: float | None = None) -> dict[str, Any]:
    """The results.json document: the human summary first, then machine, figures and details."""
    figures = [f for g in groups for f in g["figures"]]
    summary = [line for g in groups for line in g.get("summary", [])]
    summary += [f"{g['group']}: ERROR {g['error']}" for g in groups if g["error"]]
    return {
        "figures": summary,
        "machine": machine_info(),
        "quick": quick,
        "total_seconds": round(time.perf_counter() - started, 1) if started is not None else None,
        "results": figures,
        "groups": {g["group"]: {k: v for k, v in g.items() if k not in ("group", "figures")} for g in groups},
    }


def kept_groups(previous: Mapping[str, Any], rerun: Sequence[str]) -> list[dict[str, Any]]:
    """The groups of an earlier results document that were not run again (``--only``), in the shape
    ``run_group`` returns, so one group can be re-measured without dropping the others' figures."""
    out = []
    for name, details in (previous.get("groups") or {}).items():
        if name in rerun:
            continue
        figures = [f for f in previous.get("results") or [] if f.get("group") == name]
        out.append({"group": name, **{k: v for k, v in details.items() if k != "figures"},
                    "summary": list(details.get("summary") or []), "figures": figures,
                    "error": details.get("error")})
    return out
